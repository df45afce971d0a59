"""Run every metric on every dataset and collect one ``CellResult`` per (metric, dataset).

A cell that cannot run (dataset files absent, weights not downloadable, a full-reference metric
on a no-reference dataset, a crash) records why and the run goes on with the next cell.
Datasets are prepared once and shared by all metrics; one metric is alive at a time.
"""
import gc
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pyiqa_uniqa.apps.bench.eval.correlations import align_signs, correlations, summarise
from pyiqa_uniqa.apps.bench.eval.dataset_scoring import (
    NoReferenceImages,
    ScoreCache,
    rows_fingerprint,
    score_rows,
)
from pyiqa_uniqa.apps.bench.eval.datasets import DatasetUnavailable, ensure_available
from pyiqa_uniqa.apps.bench.eval.references import find_reference
from pyiqa_uniqa.apps.bench.eval.splits import (
    Split,
    SplitError,
    column_name,
    row_keys,
    split_columns,
    splits_from_columns,
    splits_from_file,
)
from pyiqa_uniqa.apps.run_defaults import metric_kind, settle
from pyiqa_uniqa.apps.metrics.failures import (
    FAILED,
    MISSING_DATASET,
    MISSING_WEIGHTS,
    NOT_APPLICABLE,
    OK,
    describe_error,
    is_missing_weights,
)


@dataclass
class EvalSettings:
    out_dir: Path
    device: str = 'cpu'
    batch_size: int = None  # None: by metric kind and device (run_defaults.py), as are the next two
    num_workers: int = None
    threads: int = None
    data_root: str = './datasets'
    download: bool = False
    split_file: str = None  # overrides the datasets' own split_file
    split_index: str = None  # a split key / column, or 'all'; None: the dataset's own setting
    phase: str = None  # which part of each split is evaluated; None: the dataset's phase, else test
    resume: bool = True


@dataclass
class PreparedDataset:
    name: str
    dataset: object  # the un-split pyiqa dataset
    splits: list
    mos_lower_better: bool
    identity: dict  # what scores on it depend on (for the score cache)


@dataclass
class CellResult:
    metric: str
    dataset: str
    status: str
    message: str = ''
    per_split: list = field(default_factory=list)  # [{'split', 'n', 'srcc', 'plcc', ...}]
    summary: dict = field(default_factory=dict)  # figure -> correlations.Summary
    pred: np.ndarray = None  # raw scores of every scored row, for plots
    mos: np.ndarray = None
    reference: object = None  # references.Reference or None
    metric_lower_better: bool = False
    mos_lower_better: bool = False
    # what the problem belongs to: 'metric' (it could not be created: every dataset), 'dataset' (its
    # files are absent or broken: every metric) or 'cell'; the report lists each problem once
    scope: str = 'cell'
    dataset_problem: tuple = None  # (status, message) when a 'metric' cell's dataset is unavailable too

    @property
    def problems(self):
        """``[(subject, status, message)]``: what went wrong, named by what it belongs to."""
        subject = {'metric': self.metric, 'dataset': self.dataset}.get(self.scope, f'{self.metric} × {self.dataset}')
        found = [(subject, self.status, self.message)] if self.status != OK or self.message else []
        if self.dataset_problem:
            found.append((self.dataset, *self.dataset_problem))
        return found


def prepare_dataset(spec, settings):
    """Build the un-split dataset and its splits; raises DatasetUnavailable / SplitError / others."""
    from pyiqa.data import build_dataset

    ensure_available(spec, settings.data_root, settings.download)
    options = dict(spec.options)
    phase = settings.phase or options.pop('override_phase', None) or options.get('phase') or 'test'
    options['phase'] = phase
    split_file = settings.split_file or options.get('split_file')
    split_index = settings.split_index if settings.split_index is not None else options.get('split_index')
    # split_file is given as None rather than dropped: self-building datasets would default it.
    full_options = {**{k: v for k, v in options.items() if k != 'split_index'}, 'split_file': None}
    full = build_dataset(full_options)
    full_options = dict(getattr(full, 'opt', full_options))  # self-building datasets fill in their paths
    if split_file:
        splits = splits_from_file(split_file, 1 if split_index is None else split_index, phase, len(full))
    elif split_index is not None:
        available = split_columns(full_options['meta_info_file'])
        columns = available if split_index == 'all' else [column_name(split_index, options)]
        absent = [c for c in columns if c not in available]
        if absent or not columns:
            raise SplitError(f'meta-info file has no split column {absent or ""}; it has '
                             f'{", ".join(available) or "none"} (or give --split-file)')
        splits = splits_from_columns(
            columns, lambda column: build_dataset({**full_options, 'split_index': column}), row_keys(full))
    else:
        splits = [Split('all images', list(range(len(full))))]
    empty = [s.label for s in splits if not s.indices]
    if empty:
        raise SplitError(f'split(s) {", ".join(empty)} have no {phase!r} images')
    identity = {'options': full_options, 'rows': rows_fingerprint(row_keys(full))}
    return PreparedDataset(spec.name, full, splits, spec.mos_lower_better, identity)


def _run_cell(metric, metric_spec, prepared, settings, references):
    cache = ScoreCache(Path(settings.out_dir) / 'scores', metric_spec.label, prepared.name,
                       {'metric': metric_spec.name, 'metric_options': metric_spec.options, **prepared.identity})
    if not settings.resume:
        cache.csv_path.unlink(missing_ok=True)
        cache.rows.clear()
    needed = sorted({i for split in prepared.splits for i in split.indices})
    chosen = settle(metric_kind(metric, metric_spec.name), settings.device, settings.threads, settings.num_workers,
                    settings.batch_size, images=len(needed))
    failures = score_rows(metric, prepared.dataset, needed, cache, settings.device, chosen.batch_size,
                          chosen.readers, desc=f'{metric_spec.label} on {prepared.name}')
    per_split = []
    for split in prepared.splits:
        mos_and_scores = np.array([cache.rows[i] for i in split.indices if i in cache.rows]).reshape(-1, 2)
        pred, mos = align_signs(mos_and_scores[:, 1], mos_and_scores[:, 0], metric.lower_better,
                                prepared.mos_lower_better)
        per_split.append({'split': split.label, 'n': len(pred), **correlations(pred, mos)})
    scored = [i for i in needed if i in cache.rows]
    message = ''
    if failures:
        index, reason = next(iter(failures.items()))
        message = f'{len(failures)} image(s) could not be read or scored and were left out (row {index}: {reason})'
    reference = find_reference(references, (metric_spec.label, metric_spec.name), prepared.name)
    return CellResult(
        metric_spec.label, prepared.name, OK, message, per_split, summarise(per_split),
        pred=np.array([cache.rows[i][1] for i in scored]), mos=np.array([cache.rows[i][0] for i in scored]),
        reference=reference, metric_lower_better=bool(metric.lower_better),
        mos_lower_better=prepared.mos_lower_better)


def evaluate(metric_specs, dataset_specs, settings, references=(), on_cell=None):
    """Fill the metric x dataset grid; ``on_cell(result)`` is called as each cell finishes."""
    import pyiqa

    results = []

    def record(result):
        results.append(result)
        if on_cell:
            on_cell(result)

    prepared = {}
    for spec in dataset_specs:
        try:
            prepared[spec.name] = prepare_dataset(spec, settings)
        except DatasetUnavailable as err:
            prepared[spec.name] = (MISSING_DATASET, str(err))
        except Exception as err:  # noqa: BLE001 - bad meta-info/splits: every cell of it says why
            prepared[spec.name] = (FAILED, describe_error(err))

    for metric_spec in metric_specs:
        try:
            metric = pyiqa.create_metric(metric_spec.name, device=settings.device, **metric_spec.options)
        except Exception as err:  # noqa: BLE001 - missing weights, bad options: report, go on
            status = MISSING_WEIGHTS if is_missing_weights(err) else FAILED
            for spec in dataset_specs:
                data = prepared[spec.name]
                record(CellResult(metric_spec.label, spec.name, status, describe_error(err), scope='metric',
                                  dataset_problem=data if isinstance(data, tuple) else None))
            continue
        for spec in dataset_specs:
            data = prepared[spec.name]
            if isinstance(data, tuple):
                record(CellResult(metric_spec.label, spec.name, *data, scope='dataset'))
                continue
            try:
                record(_run_cell(metric, metric_spec, data, settings, references))
            except NoReferenceImages as err:
                record(CellResult(metric_spec.label, spec.name, NOT_APPLICABLE, str(err)))
            except Exception as err:  # noqa: BLE001 - one broken cell must not stop the grid
                record(CellResult(metric_spec.label, spec.name, FAILED, describe_error(err)))
        del metric
        gc.collect()
    return results
