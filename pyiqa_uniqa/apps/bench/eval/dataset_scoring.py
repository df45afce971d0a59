"""Score the rows of a pyiqa dataset with a metric: batched, with progress, resumable.

Real IQA datasets mix image sizes (SPAQ, FLIVE, PIPAL...), which pyiqa's loader can only batch
at size 1. Here the loader collates each batch into groups of equal size, so uniform datasets run
at the full batch size and mixed ones still work. A row whose image cannot be read is recorded as
failed (with the reason) and the rest go on.

Every scored batch is appended to ``<scores_dir>/<metric>__<dataset>.csv`` right away; a rerun with
the same metric options and dataset rows reads it back and scores only what is missing, so an
interrupted run resumes where it stopped. A sidecar ``.json`` holds what the scores depend on;
when that changed, the old file is discarded. Each row also holds the content keys of its image
and reference (``content_keys``), taken when the dataset has read them: a score is reused only while
those files still have that content, so a dataset whose images were replaced is scored again.
"""
import csv
import hashlib
import json
import math
from pathlib import Path

from tqdm import tqdm

from pyiqa_uniqa.apps.scoring.batching import collate_by_size
from pyiqa_uniqa.apps.scoring.columns import as_floats
from pyiqa_uniqa.content_keys import file_key, still_same


class NoReferenceImages(ValueError):
    """A full-reference metric met a dataset without reference images."""


def safe_file_stem(text):
    return ''.join(c if c.isalnum() or c in '-_.+' else '_' for c in text)[:120]


class ScoreCache:
    """``{row index: (mos, score)}`` persisted as CSV; see module doc."""

    def __init__(self, scores_dir, metric_label, dataset_name, identity):
        stem = f'{safe_file_stem(metric_label)}__{safe_file_stem(dataset_name)}'
        self.csv_path = Path(scores_dir) / f'{stem}.csv'
        self.identity_path = self.csv_path.with_suffix('.json')
        self.identity = json.loads(json.dumps(identity, sort_keys=True, default=str))
        self.rows = {}
        if self._matches_identity():
            self._read()
        else:
            self.csv_path.unlink(missing_ok=True)

    def _matches_identity(self):
        if not (self.csv_path.is_file() and self.identity_path.is_file()):
            return False
        try:
            return json.loads(self.identity_path.read_text(encoding='utf-8')) == self.identity
        except ValueError:
            return False

    def _read(self):
        with open(self.csv_path, newline='', encoding='utf-8') as f:
            for row in csv.DictReader(f):
                try:
                    entry = (float(row['mos']), float(row['score']))
                    files = json.loads(row['content'])
                except (KeyError, TypeError, ValueError):
                    continue  # a line cut short by an interrupted write (or from before content keys)
                if files and all(still_same(path, key) for path, key in files):
                    self.rows[int(row['index'])] = entry

    def add(self, entries):
        """Append ``[(index, mos, score, image path, content)]`` (content: ``row_content`` of the item)
        and flush, so an interruption loses little."""
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        new_file = not self.csv_path.is_file()
        if new_file:
            self.identity_path.write_text(json.dumps(self.identity, indent=1, sort_keys=True), encoding='utf-8')
        with open(self.csv_path, 'a', newline='', encoding='utf-8') as f:
            writer = csv.writer(f)
            if new_file:
                writer.writerow(['index', 'mos', 'score', 'img_path', 'content'])
            for index, mos, score, path, content in entries:
                writer.writerow([index, repr(mos), repr(score), path, content])
                self.rows[index] = (mos, score)


def row_content(item):
    """JSON ``[[path, content key], ...]`` of a dataset item's image and reference files ('[]' when the
    item names none: its score is then never reused)."""
    files = [str(item[name]) for name in ('img_path', 'ref_img_path') if isinstance(item.get(name), (str, Path))]
    try:
        return json.dumps([[path, file_key(path)] for path in files])
    except OSError:
        return '[]'


def rows_fingerprint(keys):
    digest = hashlib.sha1()
    for key in keys:
        digest.update(repr(key).encode('utf-8'))
    return digest.hexdigest()


class _IndexedRows:
    """The chosen rows of a dataset; a row that fails to load becomes an error record.

    Rows load under ``strict_decoding`` (``pyiqa_uniqa.data.images``), so a truncated file is
    reported instead of being scored as a grey-padded image.
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = list(indices)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, k):
        from pyiqa_uniqa.data.images import strict_decoding

        index = self.indices[k]
        with strict_decoding():
            try:
                item = self.dataset[index]
            except Exception as err:  # noqa: BLE001 - corrupt/truncated/missing image: report the row
                return {'index': index, 'error': f'{type(err).__name__}: {err}'}
        return {'index': index, 'item': {**item, 'content': row_content(item)}}


def _forward(metric, batch, device):
    import torch

    img = batch['img'].to(device)
    with torch.no_grad():
        if metric.metric_mode == 'FR':
            if 'ref_img' not in batch:
                raise NoReferenceImages('full-reference metric, but the dataset has no reference images')
            out = metric(img, batch['ref_img'].to(device))
        else:
            out = metric(img)
    if isinstance(out, (tuple, list)):
        out = out[0]  # (score, extras) metrics: the score comes first
    return as_floats(out, img.shape[0], 'metric')


def score_rows(metric, dataset, indices, cache, device, batch_size=8, num_workers=0, desc='scoring'):
    """Score the rows ``indices`` not yet in ``cache``; return ``{index: reason}`` for rows that
    could not be read or got a NaN/infinite score (left out, and tried again on a rerun)."""
    from torch.utils.data import DataLoader

    todo = [i for i in dict.fromkeys(indices) if i not in cache.rows]
    failures = {}
    if not todo:
        return failures
    loader = DataLoader(_IndexedRows(dataset, todo), batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, collate_fn=collate_by_size)
    with tqdm(total=len(todo), desc=desc, unit='img', leave=False, dynamic_ncols=True) as progress:
        for groups, failed in loader:
            failures.update(failed)
            for batch in groups:
                if 'img' not in batch or 'mos_label' not in batch:
                    raise ValueError(f'dataset items have keys {sorted(batch)}, not img + mos_label: pairwise '
                                     'preference sets (BAPPS, PieAPP) have no per-image MOS to correlate with')
                scores = _forward(metric, batch, device)
                mos = batch['mos_label'].reshape(len(scores), -1)[:, 0].tolist()
                paths = [str(path) for path in batch.get('img_path', [''] * len(scores))]
                rows = list(zip(batch['index'], mos, scores, paths, batch['content']))
                failures.update((row[0], f'the metric returned {row[2]}') for row in rows if not math.isfinite(row[2]))
                cache.add(row for row in rows if math.isfinite(row[2]))
            progress.update(sum(len(b['index']) for b in groups) + len(failed))
    return failures
