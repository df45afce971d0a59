"""What a protocol asks for, read from a protocol file or a recipe plus flags, checked before anything runs.

A protocol file (YAML, read as plain data; paths relative to the current directory, as in recipes)::

    name: uniqa-koniq-protocol
    recipes:                                  # label: recipe, or label: {recipe: ..., paper: METRIC}
      uniqa: {recipe: options/uniqa/koniq.yml, paper: uniqa-koniq}
    datasets: [koniq10k]                      # trained on (eval's names); omitted: each recipe's own
    data_opt: my_datasets.yml                 # more dataset names, as eval's --data-opt
    cross: [livec, spaq]                      # tested on whole, never trained on; or {koniq10k: [livec]}
    settings:                                 # label: --force_yml entries, or {overrides, paper, datasets}
      full: []
      50 labels: {overrides: ['datasets:train:num_labels=50'], paper: 'few-label: 50 training labels', datasets: [koniq10k]}
    splits: 10
    split_files: {koniq10k: koniq10k_seed123.pkl}   # optional; see splits.py for the defaults
    test_fraction: 0.2                        # of the seeded splits written when a dataset has none
    val_fraction: 0.1                         # carved from each training part: honest selection
    seed: 123
    overrides: ['train:total_epoch=10']       # --force_yml entries for every unit

A setting's ``datasets`` limits it to those trained-on datasets (UniQA's few-label table covers
three of its seven). ``-opt RECIPE.yml`` is the one-recipe protocol: the recipe's label is its ``name``, ``-d``/``--cross``/
``--splits`` fill the rest. Flags given on the command line win over the file. ``paper`` names the
metric whose rows of eval's reference table (``apps/bench/eval/reference_results.csv``) stand beside
the results: the row for the tested dataset whose ``setting`` contains the setting's ``paper`` text
(default ``random 80/20 splits``; a cross-dataset column looks for ``cross-dataset from <trained on>``).
"""
from dataclasses import dataclass, field
from pathlib import Path

from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.options import OptionsFileError, load_yaml, parse_override

DEFAULTS = {'splits': 10, 'test_fraction': 0.2, 'val_fraction': 0.1, 'seed': 123}
PAPER_SETTING = 'random 80/20 splits'
FILE_KEYS = {'name', 'recipes', 'datasets', 'data_opt', 'data_root', 'cross', 'settings', 'splits',
             'split_files', 'test_fraction', 'val_fraction', 'seed', 'overrides'}


class ProtocolError(UserError, ValueError):
    """A protocol that cannot run as given: the message names the input and what to change."""


@dataclass
class Recipe:
    label: str
    path: str
    options: dict
    paper: str = None  # metric name in the reference table


@dataclass
class Setting:
    label: str
    overrides: list
    paper: str = PAPER_SETTING  # text the reference row's setting must contain
    datasets: list = None  # the trained-on datasets it applies to; None: all

    def applies_to(self, dataset):
        return self.datasets is None or dataset in self.datasets


@dataclass
class ProtocolRequest:
    name: str
    recipes: list
    datasets: list  # names trained on; empty: each recipe's own training dataset
    cross: dict  # trained-on name (or '*') -> [names tested on whole]
    settings: list
    splits: int
    split_files: dict
    test_fraction: float
    val_fraction: float
    seed: int
    overrides: list = field(default_factory=list)
    data_opt: str = None
    data_root: str = './datasets'

    def cross_for(self, dataset):
        return self.cross.get(dataset, self.cross.get('*', []))

    def as_file(self):
        """The protocol file that reruns exactly this request (written beside the table)."""
        return {'name': self.name,
                'recipes': {r.label: {'recipe': str(Path(r.path).resolve()), 'paper': r.paper} for r in self.recipes},
                'datasets': list(self.datasets), 'data_opt': _absolute(self.data_opt), 'data_root': self.data_root,
                'cross': {k: list(v) for k, v in self.cross.items()},
                'settings': {s.label: {'overrides': list(s.overrides), 'paper': s.paper, 'datasets': s.datasets}
                             for s in self.settings},
                'splits': self.splits, 'split_files': {k: _absolute(v) for k, v in self.split_files.items()},
                'test_fraction': self.test_fraction, 'val_fraction': self.val_fraction, 'seed': self.seed,
                'overrides': list(self.overrides)}


def _absolute(path):
    return str(Path(path).resolve()) if path else path


def read_request(args):
    """The request of ``pyiqa-uniqa protocol`` (see module doc); every field checked."""
    source = args.opt
    data = load_yaml(source, what='recipe or protocol file')
    if 'recipes' in data:
        unknown = sorted(set(data) - FILE_KEYS)
        if unknown:
            raise ProtocolError(f'{source}: unknown protocol keys {unknown}; a protocol file has {sorted(FILE_KEYS)}.')
        recipes = _recipes(data['recipes'], source)
    else:  # a recipe: the one-recipe protocol
        data = {'name': data.get('name'), 'recipes': {str(data.get('name') or Path(source).stem): source}}
        recipes = _recipes(data['recipes'], source)

    def chosen(key, flag):
        value = getattr(args, flag, None)
        return value if value not in (None, []) else data.get(key, DEFAULTS.get(key))

    cross = chosen('cross', 'cross') or {}
    if isinstance(cross, list):
        cross = {'*': cross}
    if not isinstance(cross, dict) or not all(isinstance(v, list) for v in cross.values()):
        raise ProtocolError(f'{source}: cross must be a list of dataset names, or {{trained on: [names]}}.')
    split_files = dict(data.get('split_files') or {})
    if args.split_file:
        split_files['*'] = args.split_file
    request = ProtocolRequest(
        name=str(chosen('name', 'name') or Path(source).stem), recipes=recipes,
        datasets=[str(d) for d in (chosen('datasets', 'datasets') or [])],
        cross={str(k): [str(n) for n in v] for k, v in cross.items()},
        settings=_settings(data.get('settings'), source),
        splits=chosen('splits', 'splits'), split_files=split_files,
        test_fraction=chosen('test_fraction', 'test_fraction'), val_fraction=chosen('val_fraction', 'val_fraction'),
        seed=chosen('seed', 'seed'), overrides=[*(data.get('overrides') or []), *(args.force_yml or [])],
        data_opt=chosen('data_opt', 'data_opt'), data_root=chosen('data_root', 'data_root') or './datasets')
    _check_numbers(request, source)
    for entry in request.overrides:
        parse_override(entry, f'{source} overrides')
    return request


def _recipes(entries, source):
    if not isinstance(entries, dict) or not entries:
        raise ProtocolError(f'{source}: recipes must map a label to a recipe file (or {{recipe: FILE, paper: METRIC}}).')
    recipes = []
    for label, entry in entries.items():
        entry = {'recipe': entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or not isinstance(entry.get('recipe'), str):
            raise ProtocolError(f'{source}: recipes.{label} must be a recipe file, or {{recipe: FILE, paper: METRIC}}.')
        try:
            options = load_yaml(entry['recipe'], what=f'recipe (recipes.{label} of {source})')
        except OptionsFileError as err:
            raise ProtocolError(str(err)) from None
        datasets = options.get('datasets')
        if not isinstance(datasets, dict) or not isinstance(datasets.get('train'), dict):
            raise ProtocolError(f'{entry["recipe"]}: the recipe has no datasets.train to train on.')
        recipes.append(Recipe(str(label), entry['recipe'], options, entry.get('paper')))
    return recipes


def _settings(entries, source):
    entries = {'full': []} if entries is None else entries
    if not isinstance(entries, dict) or not entries:
        raise ProtocolError(f'{source}: settings must map a label to a list of --force_yml entries '
                            '(or {overrides: [...], paper: TEXT, datasets: [names]}).')
    settings = []
    for label, entry in entries.items():
        entry = {'overrides': entry or []} if isinstance(entry, list) or entry is None else entry
        overrides = entry.get('overrides') if isinstance(entry, dict) else None
        if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            raise ProtocolError(f'{source}: settings.{label} must be a list of section:key=value entries.')
        for item in overrides:
            parse_override(item, f'{source} settings.{label}')
        datasets = entry.get('datasets')
        if datasets is not None and (not isinstance(datasets, list) or not datasets):
            raise ProtocolError(f'{source}: settings.{label}.datasets must be a list of trained-on dataset names.')
        settings.append(Setting(str(label), overrides, str(entry.get('paper') or PAPER_SETTING),
                                None if datasets is None else [str(d) for d in datasets]))
    return settings


def _check_numbers(request, source):
    def whole(value):
        return isinstance(value, int) and not isinstance(value, bool)

    if not whole(request.splits) or request.splits < 1:
        raise ProtocolError(f'{source}: splits must be a whole number >= 1, not {request.splits!r}.')
    if not whole(request.seed):
        raise ProtocolError(f'{source}: seed must be a whole number, not {request.seed!r}.')
    for key, low in (('test_fraction', 0), ('val_fraction', 0)):
        value = getattr(request, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value < 1:
            raise ProtocolError(f'{source}: {key} must be a number between 0 and 1 (exclusive), not {value!r}.')
    labels = [r.label for r in request.recipes] + [s.label for s in request.settings]
    bad = [label for label in labels if not label or '/' in label or label.startswith('.') or '__' in label]
    if bad:
        raise ProtocolError(f'{source}: labels {bad} cannot name unit folders; use letters, digits, - and _ '
                            "(no '/', no '__', not starting with '.').")
