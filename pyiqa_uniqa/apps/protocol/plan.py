"""The units of a protocol and the training options of each, made and checked before any unit runs.

A unit is one (recipe, dataset trained on, setting, split). Its options are the recipe's, with:

- ``datasets``: pyiqa's own dataset type for the dataset's files, read through
  ``CarvedSplitNRDataset`` (so ``num_labels`` / ``label_seed`` few-label settings work on any dataset)
  with the protocol's split file: ``train`` (the split's training part), ``val`` (its selection
  part), ``val_test`` (its test part) and ``val_cross<k>`` (each cross-dataset set, whole). pyiqa
  validates every one at every ``val_freq`` and records the numbers (tensorboard), so one training
  gives both selection rules: the checkpoint best on ``val`` (honest) and the best on each tested set
  (the papers' way). The recipe's loading options (augmentation, batch size, workers) are kept: the
  training part gets those of its ``datasets.train``, the others those of its first validation set.
- ``val.metrics``: SRCC and PLCC (pyiqa's), ``key_metric: srcc``; ``logger.use_tb_logger: true``
  and ``save_checkpoint_freq = val_freq``, so the checkpoint of every validation is kept.
- the protocol's ``overrides``, then the setting's, as ``--force_yml`` entries;
- ``name: run``, and every relative path made absolute: the unit trains in its own folder.

A dataset named by ``datasets``/``cross`` is resolved as ``eval -d`` resolves it (pyiqa's configs,
the photo presets, ``data_opt``); without ``datasets`` each recipe trains on its own ``datasets.train``
(its files; its split is replaced by the protocol's).
"""
import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from pyiqa_uniqa.apps.protocol.request import ProtocolError
from pyiqa_uniqa.apps.protocol.splits import protocol_splits, source_splits
from pyiqa_uniqa.options import apply_overrides

# how a recipe loads a dataset; everything else in a dataset's options names the dataset itself
LOADING_KEYS = ('augment', 'img_range', 'use_shuffle', 'batch_size_per_gpu', 'num_worker_per_gpu',
                'dataset_enlarge_ratio', 'prefetch_mode', 'pin_memory', 'persistent_workers')
# set by the protocol for each part (with CarvedSplitNRDataset's own keys)
PART_KEYS = ('name', 'phase', 'split_file', 'split_index', 'override_phase', 'cache_images', 'base_type',
             'source_phase', 'part', 'val_fraction', 'carve_seed', 'num_labels', 'label_seed')
PATH_SECTIONS = ('datasets', 'network', 'path')
RUN_NAME = 'run'  # pyiqa's experiment name inside each unit folder: experiments/run, tb_logger/run


@dataclass
class Unit:
    recipe: str
    dataset: str
    setting: str
    split: int
    columns: list  # the tested sets: 'test', then 'cross-<name>'
    options: dict = None  # None when read back from the manifest (merge)
    digest: str = None  # of the options: a stored result counts only for the same options

    def __post_init__(self):
        if self.digest is None:
            self.digest = hashlib.sha1(json.dumps(self.options, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def folder(self):
        return Path('units', self.recipe, self.dataset, self.setting, f'split_{self.split:02d}')

    @property
    def label(self):
        return f'{self.recipe} / {self.dataset} / {self.setting} / split {self.split}'

    def record(self):
        """The unit as the manifest lists it (everything but the options)."""
        return {'recipe': self.recipe, 'dataset': self.dataset, 'setting': self.setting, 'split': self.split,
                'columns': self.columns, 'digest': self.digest}


@dataclass
class DatasetSplits:
    name: str
    splits: dict  # {index: {'train', 'val', 'test'}}
    source: str  # where the parts came from, for the report
    file: Path  # where the protocol's split file goes


@dataclass
class Plan:
    units: list
    split_files: list  # DatasetSplits


def dataset_identity(options):
    """The options that name a dataset's files and labels (no loading, no split), type unwrapped."""
    identity = {k: v for k, v in options.items() if k not in LOADING_KEYS and k not in PART_KEYS}
    if options.get('type') == 'CarvedSplitNRDataset':
        identity['type'] = options.get('base_type')
    return identity


def _datasets(request):
    """``{name: identity}`` of every dataset trained or tested on, and ``{recipe label: [trained on]}``."""
    from pyiqa_uniqa.apps.bench.eval.datasets import ensure_available, resolve_datasets

    named = list(dict.fromkeys(request.datasets + [n for names in request.cross.values() for n in names]))
    specs = resolve_datasets(named, request.data_opt, request.data_root) if named else []
    identities = {spec.name: dataset_identity(spec.options) for spec in specs}
    problems = []
    for spec in specs:
        try:
            ensure_available(spec, request.data_root)
        except Exception as err:  # noqa: BLE001 - DatasetUnavailable: listed with the others
            problems.append(f'{spec.name}: {err}')
    trained_on = {}
    for recipe in request.recipes:
        if request.datasets:
            trained_on[recipe.label] = list(request.datasets)
            continue
        train = recipe.options['datasets']['train']
        name = str(train.get('name') or 'train')
        identity = _absolute_paths(dataset_identity(train))
        if name in identities and identities[name] != identity:
            raise ProtocolError(f'two recipes train on different datasets named {name!r}; rename one '
                                '(datasets.train.name) or name the datasets with -d.')
        identities[name] = identity
        trained_on[recipe.label] = [name]
    trained = {n for names in trained_on.values() for n in names}
    unknown = sorted(set(request.cross) - {'*'} - trained)
    if unknown:
        raise ProtocolError(f'cross names {unknown} as trained-on datasets, but no recipe trains on them.')
    for setting in request.settings:
        unknown = sorted(set(setting.datasets or ()) - trained)
        if unknown:
            raise ProtocolError(f'settings.{setting.label}.datasets names {unknown}, but no recipe trains on them.')
    bad = [name for name in identities if not name or '/' in name or name.startswith('.')]
    if bad:
        raise ProtocolError(f'dataset names {bad} cannot name unit folders (no "/", not starting with ".").')
    if problems:
        raise ProtocolError('datasets are not available:\n' + '\n'.join(f'  - {p}' for p in problems))
    return identities, trained_on


def _meta_info(identity, name):
    """The dataset's meta-info table (building a self-building dataset on first use)."""
    import pandas as pd
    from pyiqa.data import build_dataset

    options = {**identity, 'name': name, 'phase': 'test', 'split_file': None}
    try:
        dataset = build_dataset(options)
    except Exception as err:  # noqa: BLE001 - a dataset pyiqa cannot open is the user's to fix
        raise ProtocolError(f'dataset {name}: pyiqa cannot open it ({type(err).__name__}: {err}).') from None
    return pd.read_csv(getattr(dataset, 'opt', options)['meta_info_file'])


def make_plan(request, out_dir):
    """Every unit with its options and every dataset's protocol splits; raises ``ProtocolError``."""
    identities, trained_on = _datasets(request)
    out_dir = Path(out_dir).resolve()
    trained = list(dict.fromkeys(n for names in trained_on.values() for n in names))
    if '*' in request.split_files and len(trained) > 1:
        raise ProtocolError(f'--split-file holds the splits of one dataset, but the protocol trains on {len(trained)} '
                            f'({", ".join(trained)}); give split_files: {{dataset: file}} in a protocol file.')
    split_files = {}
    for name in trained:
        meta_info = _meta_info(identities[name], name)
        split_file = request.split_files.get(name, request.split_files.get('*'))
        if split_file and not Path(split_file).is_file():
            raise ProtocolError(f'split file {split_file} (for {name}) does not exist.')
        try:
            parts, source = source_splits(meta_info, request.splits, request.seed, request.test_fraction, split_file)
            splits = protocol_splits(meta_info, parts, request.seed, request.val_fraction)
        except ProtocolError as err:
            raise ProtocolError(f'dataset {name}: {err}') from None
        split_files[name] = DatasetSplits(name, splits, source, out_dir / 'splits' / f'{name}.pkl')
    units = []
    for recipe in request.recipes:
        for name in trained_on[recipe.label]:
            cross = request.cross_for(name)
            for setting in (s for s in request.settings if s.applies_to(name)):
                for index in range(1, request.splits + 1):
                    options = unit_options(recipe, identities, name, cross, setting, request.overrides,
                                           split_files[name].file, index)
                    units.append(Unit(recipe.label, name, setting.label, index,
                                      ['test', *(f'cross-{c}' for c in cross)], options))
    return Plan(units, list(split_files.values()))


def unit_options(recipe, identities, name, cross, setting, overrides, split_file, index):
    """The training options of one unit (see module doc)."""
    opt = copy.deepcopy(recipe.options)
    datasets = opt['datasets']
    train_loading = {k: v for k, v in datasets['train'].items() if k in LOADING_KEYS}
    val_options = next((v for k, v in datasets.items() if k.startswith('val') and isinstance(v, dict)), {})
    val_loading = {k: v for k, v in val_options.items() if k in LOADING_KEYS}

    def part(label, identity, source_phase, loading, split=True):
        options = {k: v for k, v in identity.items() if k != 'type'}
        options.update(type='CarvedSplitNRDataset', base_type=identity['type'], name=label,
                       part='train' if source_phase == 'train' else 'all', val_fraction=0, **loading)
        if split:
            options.update(split_file=str(split_file), split_index=index, source_phase=source_phase)
        else:
            options.update(split_file=None)  # the whole set (a self-building one would default to its own split)
        return options

    opt['datasets'] = {'train': part(f'{name} train', identities[name], 'train', train_loading),
                       'val': part('val', identities[name], 'val', val_loading),
                       'val_test': part('test', identities[name], 'test', val_loading)}
    for k, target in enumerate(cross, start=1):
        opt['datasets'][f'val_cross{k}'] = part(f'cross-{target}', identities[target], 'test', val_loading, split=False)
    opt['name'] = RUN_NAME
    val = opt.setdefault('val', {}) or {}
    val.update(key_metric='srcc', metrics={'srcc': {'type': 'calculate_srcc'}, 'plcc': {'type': 'calculate_plcc'}})
    opt['val'] = val
    logger = opt.setdefault('logger', {})
    logger['use_tb_logger'] = True
    logger.pop('wandb', None)
    opt.setdefault('path', {})['resume_state'] = None
    source = f'protocol unit {name} / {setting.label}'
    apply_overrides(opt, overrides, source=f'{source} overrides')
    apply_overrides(opt, setting.overrides, source=f'{source} settings')
    if not isinstance(val.get('val_freq'), (int, float)):
        raise ProtocolError(f'{recipe.path}: val.val_freq must be set (the protocol validates every val_freq).')
    logger['save_checkpoint_freq'] = val['val_freq']
    for section in PATH_SECTIONS:
        opt[section] = _absolute_paths(opt.get(section))
    return opt


def _absolute_paths(value):
    """Relative paths in options made absolute: strings starting with ./ ../ ~, and strings with a / or a
    file suffix that name something in the current directory (not names such as 'random' or 'ViT-B/16')."""
    if isinstance(value, dict):
        return {k: _absolute_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute_paths(v) for v in value]
    if isinstance(value, str) and value and not os.path.isabs(value) and (
            value.startswith(('./', '../', '~')) or (('/' in value or Path(value).suffix) and Path(value).exists())):
        return str(Path(value).expanduser().resolve())
    return value


def preflight(plan, request_source):
    """The train command's input check on every unit (without the split files, not written yet)."""
    from pyiqa_uniqa.training.option_check import fix_renamed_keys
    from pyiqa_uniqa.training.pipeline import normalize_options
    from pyiqa_uniqa.training.preflight import input_problems

    problems = {}
    for unit in plan.units:
        opt = copy.deepcopy(unit.options)
        for dataset in opt['datasets'].values():
            dataset.pop('split_file', None)
        normalize_options(opt, SimpleNamespace(opt=request_source, force_yml=None, auto_resume=False, debug=False))
        fix_renamed_keys(opt)
        for problem in input_problems(opt):
            problems.setdefault(problem, unit.recipe)
    if problems:
        lines = '\n'.join(f'  - {recipe}: {problem}' for problem, recipe in problems.items())
        raise ProtocolError(f'units of {request_source} cannot train; nothing was run:\n{lines}')
