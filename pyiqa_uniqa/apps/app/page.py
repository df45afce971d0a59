"""The Gradio page: Score, Compare and Explore tabs, and the ``score``/``compare`` API of ``gradio_client``.

Every handler calls the one ``ScoringService``; a refused request becomes ``gr.Error`` (the page
shows its message, ``gradio_client`` raises it). The theme uses the system's fonts: the default
one fetches Google Fonts, and the page must work offline.
"""
from pathlib import Path

import gradio as gr
from gradio import FileData

from pyiqa_uniqa.apps.app import explore
from pyiqa_uniqa.apps.app.limits import RequestError

THUMBNAIL_SIDE = 256
MAX_IMAGES_PER_REQUEST = 64  # a folder named on the Score tab; `pyiqa-uniqa score` is for collections
EXTREMES = 6  # best and worst thumbnails in Explore
TABLE_TYPES = ['.csv', '.jsonl', '.ndjson', '.parquet']


def theme():
    return gr.themes.Default(primary_hue='orange', font=['ui-sans-serif', 'system-ui', 'sans-serif'],
                             font_mono=['ui-monospace', 'monospace'])


def _thumbnail(path, limits):
    from pyiqa_uniqa.data.images import read_image
    return read_image(str(path), max_pixels=limits.max_pixels, max_side=THUMBNAIL_SIDE)


def _printable(text):
    """A model's text with control characters shown as \ufffd (an untrained model emits any token)."""
    return ''.join(c if c.isprintable() else '\ufffd' for c in text)


def _labels(text):
    return [label.strip() for label in (text or '').split(',') if label.strip()]


def _metric_choice(service, elem_id):
    labels = list(service.metrics)
    return gr.Dropdown(label='Metrics', choices=labels, value=labels, multiselect=True, allow_custom_value=True,
                       elem_id=elem_id)


class Page:
    """The page's handlers around ``service`` (``ScoringService``) and ``served`` (``ServedFolders``)."""

    def __init__(self, service, served):
        self.service = service
        self.served = served
        self.limits = service.settings.limits

    # --- Score ------------------------------------------------------------------------------------
    def score(self, files, folder_text, reference, labels):
        items = [(path, Path(path).name) for path in files or []]
        try:
            self.service.chosen(labels)
            if folder_text and folder_text.strip():
                items += [(path, path) for path in self.served.images(folder_text, MAX_IMAGES_PER_REQUEST)]
        except RequestError as err:
            raise gr.Error(str(err)) from None
        if not items:
            raise gr.Error('No image: drop one or more images on the box, or name a file or folder inside the '
                           'folders this server serves.')
        results, rows, gallery, bars, problems = [], [], [], [], []
        for path, name in items:
            try:
                result = self.service.score(path, name, reference, Path(reference).name if reference else None, labels)
            except RequestError as err:
                problems.append(str(err))
                rows.append({'image': name, 'error': str(err)})
                continue
            results.append(result)
            row, caption = {'image': name}, []
            for label, cell in result['metrics'].items():
                row.update(self._cells(label, cell))
                if 'score' in cell:
                    caption.append(f'{label} {cell["score"]:.3g}')
                for attribute, value in (cell.get('attributes') or {}).items():
                    bars.append({'image': name, 'attribute': f'{label}.{attribute}', 'value': value})
            row['error'] = '; '.join(f'{label}: {cell["error"]}' for label, cell in result['metrics'].items()
                                     if 'error' in cell)
            rows.append(row)
            gallery.append((_thumbnail(path, self.limits), f'{name}: {", ".join(caption)}'))
        if not results:
            raise gr.Error(' '.join(problems))
        import pandas as pd
        return (self._message(problems), pd.DataFrame(rows), gallery,
                pd.DataFrame(bars, columns=['image', 'attribute', 'value']), self._descriptions(results),
                {'results': results, 'refused': problems})

    @staticmethod
    def _cells(label, cell):
        cells = {}
        if 'score' in cell:
            cells[label] = cell['score']
        for attribute, value in (cell.get('attributes') or {}).items():
            cells[f'{label}.{attribute}'] = value
        if 'description' in cell:
            flag = ' (LOW CONFIDENCE)' if cell['low_confidence'] else ''
            cells[f'{label}.description'] = _printable(cell['description']) + flag
            cells[f'{label}.confidence'] = cell['confidence']
        return cells

    def _descriptions(self, results):
        lines = []
        for result in results:
            for label, cell in result['metrics'].items():
                if 'description' in cell:
                    flag = ' — **low confidence: treat with care**' if cell['low_confidence'] else ''
                    confidence = '' if cell['confidence'] is None else f' (confidence {cell["confidence"]:.2f})'
                    lines.append(f'- **{result["image"]}**, {label}: “{_printable(cell["description"])}”{confidence}{flag}')
        return '\n'.join(lines) or '*No descriptive metric (DepictQA) is loaded.*'

    @staticmethod
    def _message(problems):
        """The requests refused among several (the test-weight notes stay at the top of the page)."""
        return '\n\n'.join(f'**Refused:** {problem}' for problem in problems)

    # --- Compare ----------------------------------------------------------------------------------
    def compare(self, image_a, image_b, reference, labels, detail):
        if not image_a or not image_b:
            raise gr.Error('Compare needs two images: give image A and image B (the reference is optional).')
        names = [Path(p).name if p else None for p in (image_a, image_b, reference)]
        try:
            result = self.service.compare(image_a, image_b, reference, names, labels, detail)
        except RequestError as err:
            raise gr.Error(str(err)) from None
        import pandas as pd
        rows = [{'metric': label, 'A': cell.get('A'), 'B': cell.get('B'), 'better': cell.get('better', ''),
                 'error': cell.get('error', '')} for label, cell in result['metrics'].items()]
        words = [f'- {_printable(v.get("text") or v["error"])}' for v in result['verdicts'].values()]
        verdicts = '\n'.join(words) or '*No model here compares in words (load depictqa for verdicts).*'
        return pd.DataFrame(rows), verdicts, result

    # --- Explore ----------------------------------------------------------------------------------
    def open_table(self, upload, path_text):
        from pyiqa_uniqa.apps.scoring.table import read_table
        from pyiqa_uniqa.errors import UserError

        try:
            if upload:
                path = upload
            elif path_text and path_text.strip():
                path = self.served.resolve(path_text, 'table')
            else:
                raise RequestError('No table: upload a table written by `pyiqa-uniqa score` (.csv, .jsonl, '
                                   '.parquet), or name one inside the served folders.')
            table = read_table(str(path))
        except UserError as err:  # an upload is named as the user called it, not by its copy's path
            raise gr.Error(str(err).replace(upload, Path(upload).name) if upload else str(err)) from None
        columns = explore.metric_columns(table)
        if not columns:
            raise gr.Error('This table has no metric columns (numbers): is it a table written by `pyiqa-uniqa score`?')
        summary = f'{len(table)} rows, metrics: {", ".join(columns)}'
        return (table, gr.update(choices=columns, value=columns[0]), summary,
                *self.show(table, columns[0], ''))

    def show(self, table, column, text):
        if table is None or column is None:
            return None, None, [], [], ''
        rows = explore.filtered(table, text)
        shown = explore.ranked(rows, column).head(explore.SHOWN_ROWS)
        best, worst = explore.best_and_worst(rows, column, EXTREMES)
        gallery_note = ''
        galleries = []
        for part in (best, worst):
            images = []
            for _, row in part.iterrows():
                thumbnail = self._table_thumbnail(row['path'])
                if thumbnail is None:
                    gallery_note = ('Thumbnails show only images inside the folders this server serves '
                                    '(start it with --folders).')
                    continue
                images.append((thumbnail, f'{Path(row["path"]).name}: {column} {row[column]:.4g}'))
            galleries.append(images)
        figure = explore.histograms(rows, explore.metric_columns(rows))
        return shown, figure, galleries[0], galleries[1], gallery_note

    def _table_thumbnail(self, path):
        try:
            return _thumbnail(self.served.resolve(path, 'image'), self.limits)
        except (RequestError, OSError, ValueError):
            return None

    def details(self, shown, event: gr.SelectData):
        row = shown.iloc[event.index[0]]
        return explore.row_details(row), self._table_thumbnail(row['path'])

    # --- the API of gradio_client ----------------------------------------------------------------
    def api_score(self, image: FileData, reference: FileData | None = None, metrics: str = '') -> dict:
        """The metrics (comma-separated labels; default all) on one image (full-reference ones against ``reference``)."""
        try:
            return self.service.score(image['path'], image.get('orig_name'), reference and reference['path'],
                                      reference and reference.get('orig_name'), _labels(metrics))
        except RequestError as err:
            raise gr.Error(str(err)) from None

    def api_compare(self, image_a: FileData, image_b: FileData, reference: FileData | None = None,
                    metrics: str = '', detail: bool = False) -> dict:
        """The metrics (comma-separated labels; default all) on images A and B and each descriptive model's
        verdict (``detail``: its reasoning in a paragraph)."""
        files = (image_a, image_b, reference)
        try:
            return self.service.compare(*(f and f['path'] for f in files), names=[f and f.get('orig_name') for f in files],
                                        metrics=_labels(metrics), detail=detail)
        except RequestError as err:
            raise gr.Error(str(err)) from None


def build_page(service, served, folders_note):
    """The ``gr.Blocks`` of the page."""
    page = Page(service, served)
    with gr.Blocks(title='pyiqa-uniqa') as blocks:
        gr.Markdown('# pyiqa-uniqa: image quality\n' + folders_note)
        notes = '\n\n'.join(f'⚠ {note}' for note in service.notes())
        if notes:
            gr.Markdown(notes, elem_id='weights-notes')
        with gr.Tab('Score', id='score'):
            with gr.Row():
                files = gr.File(label='Images', file_count='multiple', file_types=['image'], elem_id='score-files')
                with gr.Column():
                    folder = gr.Textbox(label='or a file or folder inside the served folders', elem_id='score-path')
                    reference = gr.Image(label='Reference (for full-reference metrics)', type='filepath',
                                         elem_id='score-ref')
            score_metrics = _metric_choice(service, 'score-metrics')
            run = gr.Button('Score', variant='primary', elem_id='score-run')
            message = gr.Markdown(elem_id='score-message')
            table = gr.Dataframe(label='Scores', elem_id='score-table', wrap=True)
            thumbnails = gr.Gallery(label='Images', columns=6, height=260, object_fit='contain', fit_columns=False,
                                elem_id='score-gallery')
            bars = gr.BarPlot(x='attribute', y='value', color='image', label='ATTIQA attributes',
                              elem_id='score-attributes', x_label_angle=-30)
            descriptions = gr.Markdown(elem_id='score-descriptions')
            with gr.Accordion('Raw answer (JSON)', open=False):
                raw = gr.JSON()
            run.click(page.score, [files, folder, reference, score_metrics], [message, table, thumbnails, bars, descriptions, raw],
                      api_name='page_score', api_visibility='private')
        with gr.Tab('Compare', id='compare'):
            with gr.Row():
                image_a = gr.Image(label='Image A', type='filepath', elem_id='compare-a')
                image_b = gr.Image(label='Image B', type='filepath', elem_id='compare-b')
                compare_ref = gr.Image(label='Reference (optional)', type='filepath', elem_id='compare-ref')
            with gr.Row():
                compare_metrics = _metric_choice(service, 'compare-metrics')
                detail = gr.Checkbox(label='DepictQA: its reasoning in a paragraph (slower) instead of the brief verdict',
                                     elem_id='compare-detail')
            run_compare = gr.Button('Compare', variant='primary', elem_id='compare-run')
            compare_table = gr.Dataframe(label='Every metric on A and B', elem_id='compare-table')
            verdicts = gr.Markdown(elem_id='compare-verdicts')
            with gr.Accordion('Raw answer (JSON)', open=False):
                compare_raw = gr.JSON()
            run_compare.click(page.compare, [image_a, image_b, compare_ref, compare_metrics, detail],
                              [compare_table, verdicts, compare_raw], api_name='page_compare',
                              api_visibility='private')
        with gr.Tab('Explore', id='explore'):
            state = gr.State(None)
            with gr.Row():
                table_file = gr.File(label='A table written by `pyiqa-uniqa score`', file_types=TABLE_TYPES,
                                     elem_id='explore-file')
                with gr.Column():
                    table_path = gr.Textbox(label='or its path inside the served folders', elem_id='explore-path')
                    open_button = gr.Button('Open', variant='primary', elem_id='explore-open')
                    summary = gr.Markdown(elem_id='explore-summary')
            with gr.Row():
                column = gr.Dropdown(label='Metric (sorts the table, picks best and worst)', choices=[],
                                     elem_id='explore-metric')
                filter_text = gr.Textbox(label='Filter: path contains', elem_id='explore-filter')
            rows = gr.Dataframe(label=f'Rows, best first (at most {explore.SHOWN_ROWS}; click a row for its details)',
                                elem_id='explore-table', show_search='filter', interactive=False)
            with gr.Row():
                with gr.Column():
                    details = gr.JSON(label='Row details', elem_id='explore-details')
                detail_image = gr.Image(label='Row image', interactive=False, height=256)
            histogram = gr.Plot(label='Histogram per metric', elem_id='explore-histograms')
            best = gr.Gallery(label='Best', columns=EXTREMES, height=200, object_fit='contain', fit_columns=False,
                                elem_id='explore-best')
            worst = gr.Gallery(label='Worst', columns=EXTREMES, height=200, object_fit='contain', fit_columns=False,
                                elem_id='explore-worst')
            gallery_note = gr.Markdown()
            shown_outputs = [rows, histogram, best, worst, gallery_note]
            open_button.click(page.open_table, [table_file, table_path], [state, column, summary, *shown_outputs],
                              api_visibility='private')
            column.change(page.show, [state, column, filter_text], shown_outputs, api_visibility='private')
            filter_text.submit(page.show, [state, column, filter_text], shown_outputs, api_visibility='private')
            rows.select(page.details, [rows], [details, detail_image], api_visibility='private')
        gr.api(page.api_score, api_name='score')
        gr.api(page.api_compare, api_name='compare')
    return blocks
