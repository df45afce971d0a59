"""Score many images with many metrics: ``score_images`` (the Python API) and the loop under ``score``.

For each column (metric x task, see ``columns.py``) that still has work:
- the metric is created once (all of them before any scoring, so a missing weight file stops the
  run before hours are spent on the other metrics);
- a ``DataLoader`` with worker processes reads the images exactly as ``create_metric(...)(path)``
  does (pyiqa's reader) while the model runs; each loader batch is split into groups of equal size
  (``batching.collate_by_size``) and each group is one forward pass;
- every batch's results go to the journal at once (``journal.py``); a group that fails is scored
  again image by image, so one bad image costs only its own row;
- a progress bar shows images/s and the time left.

A result is reused only for the same content: each record holds the ``content_keys.file_key`` of its
image (and of its reference for full-reference metrics), taken as the image is read, and a row whose
file no longer has that content is scored again (``ColumnSummary.changed``). So a rerun (also after a
kill) scores only what is missing or changed. Results are the rows of ``table.build_table``.
"""
import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from pyiqa_uniqa.apps.metrics.metric_specs import MetricSpec, check_metric_names, parse_metric_specs
from pyiqa_uniqa.content_keys import file_key, still_same
from pyiqa_uniqa.errors import Interrupted, UserError
from pyiqa_uniqa.apps.scoring.columns import (
    DEFAULT_MIN_CONFIDENCE,
    Column,
    check_describable,
    check_device_precision,
    gives_attributes,
    network_can,
    run_batch,
    with_precision,
)
from pyiqa_uniqa.apps.scoring.inputs import ImageRow
from pyiqa_uniqa.apps.run_defaults import metric_kind, settle
from pyiqa_uniqa.apps.scoring.journal import JournalWriter, done_keys, read_journal
from pyiqa_uniqa.apps.scoring.processes import Alone
from pyiqa_uniqa.sharding import shard_of


@dataclass
class ScoreSettings:
    device: str = None  # default: cuda when available (cuda:LOCAL_RANK under torchrun)
    precision: str = 'fp32'
    batch_size: int = None  # None: by metric kind and device (run_defaults.py), as are the next two
    num_workers: int = None
    threads: int = None  # torch threads
    journal: str = None  # folder; None keeps results in memory only (no resume)
    writer: str = 'main'  # this process's journal file name
    progress: bool = True


@dataclass
class ColumnSummary:
    label: str
    task: str
    total: int = 0  # rows this process group was asked for
    cached: int = 0  # already in the journal
    scored: int = 0  # scored by this run (all ranks)
    changed: int = 0  # of those, rows the journal had a result for, made from content the file no longer has
    failed: int = 0  # rows without a result at the end
    seconds: float = 0.0  # wall time of this run's scoring loop (rank 0)
    cpu_seconds: float = 0.0  # CPU time of that loop in rank 0's own process (image reading runs in workers)
    setting: str = ''  # the threads, readers and batch size the loop ran with (run_defaults.RunDefaults)

    @property
    def images_per_second(self):
        return self.scored / self.seconds if self.seconds > 0 else math.nan


@dataclass
class ScoreRun:
    rows: list
    columns: list
    records: dict  # column id -> {journal key: record}
    summaries: list = field(default_factory=list)


def read_like_pyiqa(path, ours):
    """The tensor [3, H, W] ``create_metric(...)(path)`` scores: read as the start-up hook makes pyiqa
    read it (``data.pyiqa_reading.read_for_metric``: this package's metrics through ``read_image``,
    pyiqa's own through its ``imread2tensor``; strict decoding and the pixel limit for both).
    ``ours``: ``pyiqa_reading.is_ours`` of the metric's network class."""
    from pyiqa_uniqa.data.pyiqa_reading import read_for_metric
    return read_for_metric(path, ours)[0]


class RowReads:
    """Dataset over rows, each image read by ``read_like_pyiqa``; a row that cannot be read becomes
    an error record."""

    def __init__(self, rows, with_ref, ours):
        self.rows = rows
        self.with_ref = with_ref
        self.ours = ours

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        row = self.rows[index]
        if row.problem:
            return {'index': index, 'error': row.problem}
        try:
            # the content key first: an edit made while the image is decoded then shows at the next run
            item = {'file': file_key(row.path), 'img': read_like_pyiqa(row.path, self.ours)}
        except Exception as err:  # noqa: BLE001 - missing, truncated, not an image: the row reports it
            return {'index': index, 'error': f'{type(err).__name__}: {err}'}
        if self.with_ref:
            if not row.ref:
                return {'index': index, 'error': 'no reference image for this row: give --ref FOLDER or a ref column'}
            try:
                item['ref_file'] = file_key(row.ref)
                item['ref_img'] = read_like_pyiqa(row.ref, self.ours)
            except Exception as err:  # noqa: BLE001 - as above, for the reference
                return {'index': index, 'error': f'reference {row.ref}: {type(err).__name__}: {err}'}
        return {'index': index, 'item': item}


def _worker_init(_):
    import torch
    torch.set_num_threads(1)


def resolve_columns(metrics, precision='fp32', describe=False):
    """``Column``s from metric specs: strings ``name:key=value,...`` or ``MetricSpec``s."""
    texts = [m for m in metrics if isinstance(m, str)]
    specs = parse_metric_specs(texts) if texts else []
    check_metric_names(specs)
    specs += [m for m in metrics if isinstance(m, MetricSpec)]
    specs = [with_precision(spec, precision) for spec in specs]
    columns = [Column(spec) for spec in specs]
    if describe:
        columns += [Column(spec, 'describe') for spec in specs if network_can(spec.name, 'describe')]
        if not any(c.task == 'describe' for c in columns):
            raise UserError('--describe: none of the metrics describes images; add depictqa (or depictqa-fr).')
    return columns


def _device(settings):
    import torch

    from pyiqa_uniqa.apps.metrics.metric_checks import check_device
    if settings.device:
        check_device(settings.device, 'device')
        return settings.device
    if torch.cuda.is_available():
        return f'cuda:{int(os.environ.get("LOCAL_RANK", "0"))}'
    return 'cpu'


def _create(column, device):
    import pyiqa

    from pyiqa_uniqa.apps.metrics.metric_checks import refused_options
    try:
        metric = pyiqa.create_metric(column.spec.name, device=device, **column.spec.options)
    except (TypeError, ValueError) as err:  # the family's option errors are ValueErrors too: named the same way
        refused = refused_options(column.spec, err)
        if refused is None:
            raise
        raise refused from err
    check_describable(metric, column)
    return metric


def _records_of_group(metric, column, batch, rows, device, attributes):
    """Journal records for one same-size group; a failing group is retried image by image."""
    images = batch['img'].to(device, non_blocking=True)
    refs = batch['ref_img'].to(device, non_blocking=True) if 'ref_img' in batch else None
    try:
        results = run_batch(metric, column, images, refs, attributes)
    except Exception as err:  # noqa: BLE001 - isolate the image(s) that fail; bugs still show per row
        if len(images) == 1:
            results = [{'error': f'{type(err).__name__}: {err}'}]
        else:
            return [record for i in range(len(images)) for record in _records_of_group(
                metric, column, {name: batch[name][i:i + 1] for name in batch if name != 'index'},
                [rows[i]], device, attributes)]
    records = []
    for i, (row, result) in enumerate(zip(rows, results)):
        key = column.row_key(row.key)
        record = {'column': column.id, 'path': key[0], 'ref': key[1], 'file': batch['file'][i]}
        if column.full_reference:
            record['ref_file'] = batch['ref_file'][i]
        if 'error' in result:
            record['error'] = result['error']
        elif result['score'] is not None and not math.isfinite(result['score']):
            record['error'] = f'the metric returned {result["score"]}'
        else:
            record.update(score=result['score'], extras=result['extras'])
        records.append(record)
    return records


def _score_column(metric, column, rows, settings, device, journal, show_progress):
    """Score ``rows`` for ``column``; -> (the new records, the ``RunDefaults`` it ran with)."""
    import torch
    from torch.utils.data import DataLoader

    from pyiqa_uniqa.data.pyiqa_reading import is_ours
    from pyiqa_uniqa.apps.scoring.batching import collate_by_size

    chosen = settle(metric_kind(metric, column.spec.name), device, settings.threads, settings.num_workers,
                    settings.batch_size, images=len(rows))
    workers = chosen.readers
    reads = RowReads(rows, column.full_reference, is_ours(type(metric.net)))
    loader = DataLoader(reads, batch_size=chosen.batch_size, num_workers=workers,
                        collate_fn=collate_by_size, worker_init_fn=_worker_init if workers else None,
                        pin_memory=str(device).startswith('cuda'), prefetch_factor=4 if workers else None)
    new = []
    attributes = column.task == 'score' and gives_attributes(metric)
    label = column.spec.label + (' (describe)' if column.task == 'describe' else '')
    with tqdm(total=len(rows), desc=label, unit='img', file=sys.stderr, dynamic_ncols=True,
              disable=not show_progress) as bar, torch.no_grad():
        for groups, failures in loader:
            records = [{'column': column.id, **dict(zip(('path', 'ref'), column.row_key(rows[i].key))),
                        'error': reason} for i, reason in failures]
            for batch in groups:
                records += _records_of_group(metric, column, batch, [rows[i] for i in batch['index']], device,
                                             attributes)
            if journal is not None:
                journal.append(records)
            new += records
            bar.update(len(records))
    return new, chosen


def score_rows(rows, columns, settings, processes=None):
    """Score ``rows`` (``ImageRow``s) for ``columns``; -> ``ScoreRun`` (complete on rank 0)."""
    processes = processes or Alone()
    device = _device(settings)
    check_device_precision(settings.precision, device)
    journal_folder = Path(settings.journal) if settings.journal else None
    records = read_journal(journal_folder) if journal_folder and processes.rank == 0 else {}
    # each column's rows by journal key, first row of a key only: a no-reference column scores an
    # image once however many refs it has
    keyed = {column.id: _rows_by_key(column, rows) for column in columns}
    todo = changed = None
    if processes.rank == 0:
        todo, changed = {}, {}
        for column in columns:
            done = done_keys(records.get(column.id, {}))
            reusable = {key for key in done if _same_content(column, keyed[column.id].get(key),
                                                               records[column.id][key])}
            todo[column.id] = [row for key, row in keyed[column.id].items() if key not in reusable]
            changed[column.id] = sum(1 for key in keyed[column.id] if key in done and key not in reusable)
    todo = processes.broadcast(todo)

    metrics, problem = {}, ''
    try:
        for column in columns:
            if shard_of(todo[column.id], processes.rank, processes.world) and column.spec.label not in metrics:
                metrics[column.spec.label] = _create(column, device)
    except Exception as err:  # noqa: BLE001 - every rank must hear of it, or the others wait forever
        problem = err
    problems = processes.all_agree(f'{type(problem).__name__}: {problem}' if problem else '')
    if problem:
        raise problem
    if any(problems):
        raise UserError(f'another rank could not create its metrics: {next(p for p in problems if p)}')

    journal = JournalWriter(journal_folder, settings.writer) if journal_folder else None
    last_use = {column.spec.label: column for column in columns}  # free each model after its last column
    summaries, new = [], []
    try:
        for column in columns:
            summary = ColumnSummary(column.spec.label, column.task, total=len(keyed[column.id]))
            summary.cached = summary.total - len(todo[column.id])
            start, start_cpu = time.perf_counter(), time.process_time()
            share = shard_of(todo[column.id], processes.rank, processes.world)
            if share:
                scored, chosen = _score_column(metrics[column.spec.label], column, share, settings, device,
                                               journal, settings.progress and processes.rank == 0)
                new += scored
                summary.setting = str(chosen)
            summary.seconds = time.perf_counter() - start
            summary.cpu_seconds = time.process_time() - start_cpu
            summaries.append(summary)
            if last_use[column.spec.label] is column:
                metrics.pop(column.spec.label, None)
    except KeyboardInterrupt:
        if journal is None:
            raise
        raise Interrupted(journal.saved, journal_folder) from None
    finally:
        if journal is not None:
            journal.close()
    gathered = processes.gather(new)
    if processes.rank != 0:
        return ScoreRun(rows, columns, {}, summaries)
    for part in gathered:
        for record in part:  # this run's record of a row wins: an older result is of other content
            records.setdefault(record['column'], {})[(record['path'], record['ref'])] = record
    scored = Counter(r['column'] for part in gathered for r in part if 'error' not in r)
    for column, summary in zip(columns, summaries):
        column_records = records.get(column.id, {})
        summary.scored = scored[column.id]
        summary.changed = changed[column.id]
        summary.failed = sum(1 for key in keyed[column.id] if 'error' in column_records.get(key, {'error': ''}))
    return ScoreRun(rows, columns, records, summaries)


def _same_content(column, row, record):
    """Whether the journal's ``record`` was made from the files ``row`` names as they are now."""
    if row is None:
        return False
    return still_same(row.path, record.get('file')) and (
        not column.full_reference or still_same(row.ref, record.get('ref_file')))


def _rows_by_key(column, rows):
    """{journal key: its first row}, in the order of ``rows``."""
    first = {}
    for row in rows:
        first.setdefault(column.row_key(row.key), row)
    return first


def score_images(paths, metrics, refs=None, *, device=None, precision='fp32', batch_size=None, num_workers=None,
                 threads=None, journal=None, describe=False, min_confidence=DEFAULT_MIN_CONFIDENCE, progress=True):
    """Score image files with pyiqa metrics; -> a pandas DataFrame, one row per image.

    Args:
        paths: image file paths (str or Path).
        metrics: metric names as ``create_metric`` takes them, optionally with options
            (``'uniqa:num_crops=5'``), or ``bench.metric_specs.MetricSpec``s.
        refs: reference image per path, for full-reference metrics (same length as ``paths``).
        device, precision, batch_size, num_workers, threads: as the ``score`` command's flags (None: the
            fastest measured setting for the metric's kind and this process's cores, ``apps.run_defaults``).
        journal: a folder to append results to; a later call with the same folder scores only
            what is missing (None: nothing is written).
        describe: add each descriptive metric's (DepictQA's) brief description and confidence.
        min_confidence: descriptions below it are flagged in ``<label>.low_confidence``.

    Columns: ``path``, ``ref`` (when refs are given), one per metric (its label: the name, or the
    full spec when one metric is given twice with different options), ``<label>.<attribute>`` for
    ATTIQA, ``<label>.description``/``.confidence``/``.low_confidence`` with ``describe``, and
    ``error`` (why a row or a cell has no value; '' when all went well). Each score equals
    ``pyiqa.create_metric(name, **options)(path)`` (up to float rounding of batched kernels).
    """
    from pyiqa_uniqa.apps.scoring.table import build_table

    if refs is not None and len(refs) != len(paths):
        raise UserError(f'score_images: {len(paths)} paths but {len(refs)} refs.')
    pairs = zip(map(str, paths), map(str, refs) if refs is not None else [''] * len(paths))
    rows = sorted(set(ImageRow(path, ref) for path, ref in pairs), key=lambda row: row.key)
    columns = resolve_columns(list(metrics), precision, describe)
    settings = ScoreSettings(device=device, precision=precision, batch_size=batch_size, num_workers=num_workers,
                             threads=threads, journal=journal, progress=progress)
    run = score_rows(rows, columns, settings)
    return build_table(run, min_confidence)
