"""Before a training run creates anything: every input its options name is there and usable.

pyiqa finds a missing dataset only once it has written ``experiments/`` and ``tb_logger/``, printed
its option dump, and built the model, and then reports it as a pandas traceback. ``check_inputs``
looks first and reports every problem at once, one line each:

- the sections pyiqa needs, and the model, network and dataset types (registered, or close names);
- each dataset's files: image folders, meta-info file, split file (which must be a plain pickle:
  it is read without running anything, see ``safe_pickle``) and the split it names; with how to
  get a dataset pyiqa can download (``pyiqa.load_dataset``) and where it goes;
- the network's weight files, through the arch's ``weight_sources`` (``{keyword: WeightSource}``,
  searched as the model will search them), or its own ``missing_weights(network_options) -> [line,
  ...]`` (models whose parts are not single files, such as DepictQA's Hugging Face base models), or,
  for archs that declare neither, any option whose value is written as a path;
  ``path.pretrain_network`` and ``path.resume_state``.

A dataset class may declare ``missing_inputs(dataset_options) -> [line, ...]`` to check inputs of
its own (globs, lists of JSON files); otherwise the four pyiqa path keys are checked.

Before all that, and before anything derives values from the options, ``check_shape`` checks
that each value is of the kind its key takes and that the run's name keeps it inside the working
folder (``option_types.py``).
"""
import difflib
import functools
import importlib
import importlib.util
import re
from pathlib import Path

from pyiqa_uniqa.data.dataset_files import PATH_KEYS, builds_itself, how_to_get, missing_paths
from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.safe_pickle import load_plain_pickle
from pyiqa_uniqa.training.option_types import name_problems, type_problems
from pyiqa_uniqa.weights import WeightsNotFoundError, find_weights, weight_kind

REQUIRED_SECTIONS = ('name', 'model_type', 'num_gpu', 'datasets', 'network', 'path', 'train', 'logger')
# kind -> (pyiqa package, its module files, its registry, the group our parts register in)
_REGISTRIES = {
    'model': ('pyiqa.models', '*_model.py', 'MODEL_REGISTRY', 'models'),
    'arch': ('pyiqa.archs', '*_arch.py', 'ARCH_REGISTRY', 'archs'),
    'dataset': ('pyiqa.data', '*_dataset.py', 'DATASET_REGISTRY', 'datasets'),
}
_CLASS = re.compile(r'^class\s+(\w+)\s*[(:]', re.MULTILINE)
# network options that name weight files, for archs that declare no weight_sources
WEIGHT_OPTIONS = ('backbone_weights', 'pretrained_model_path', 'base_model_path')


class PreflightError(UserError):
    """The options name inputs that are missing or unusable; nothing was created."""


def registered(kind, name):
    """The class pyiqa's registry holds for ``name``; a ``PreflightError`` with close names if none.

    pyiqa itself, for a name it has not imported yet, imports *every* module of the kind when its
    guesses from the name fail, and some of those change process-wide state when imported (the AVA
    dataset switches on PIL's LOAD_TRUNCATED_IMAGES, Q-Align patches transformers' Llama classes).
    So the module that defines ``name`` is found by reading pyiqa's source files, and only that
    one is imported; a name no file defines is reported without importing anything.
    """
    from pyiqa.utils import registry

    from pyiqa_uniqa.parts import declared_registry
    package, pattern, table, group = _REGISTRIES[kind]
    table = getattr(registry, table)
    if name not in table:  # also registers every plugin's names (lazily)
        defined = _pyiqa_classes(package, pattern)
        if name in defined:
            importlib.import_module(f'{package}.{defined[name]}')
    if name in table:
        return table.get(name)
    known = {*(n for n, _ in table), *declared_registry().get(group, {}), *_pyiqa_classes(package, pattern)}
    close = difflib.get_close_matches(name, known, n=5)
    hint = f' Did you mean one of: {", ".join(close)}?' if close else ''
    raise PreflightError(f'{kind} type {name!r} is not registered with pyiqa.{hint}')


@functools.lru_cache(maxsize=None)
def _pyiqa_classes(package, pattern):
    """{class name: module name} for the classes defined in ``package``'s ``pattern`` files (read, not imported)."""
    folder = Path(importlib.util.find_spec(package).submodule_search_locations[0])
    return {name: path.stem for path in sorted(folder.glob(pattern))
            for name in _CLASS.findall(path.read_text(encoding='utf-8', errors='replace'))}


def check_shape(opt, source, root='.'):
    """Raise one ``PreflightError`` listing every value of the wrong kind, and a ``name`` that would put
    the run outside ``root`` (``option_types.py``)."""
    problems = type_problems(opt) or name_problems(opt, Path(root))
    if problems:
        lines = '\n'.join(f'  - {problem}' for problem in problems)
        raise PreflightError(f'{source} has options of the wrong kind; nothing was created:\n{lines}')


def check_inputs(opt, source):
    """Raise one ``PreflightError`` listing every problem with the inputs ``opt`` names."""
    problems = input_problems(opt)
    if problems:
        lines = '\n'.join(f'  - {problem}' for problem in problems)
        raise PreflightError(f'{source} names inputs that are missing or unusable; nothing was created:\n{lines}')


def input_problems(opt):
    """One line per problem (see the module doc); empty when training can start."""
    missing = [key for key in REQUIRED_SECTIONS if key not in opt]
    if missing:
        return [f'the options have no {", ".join(missing)} (pyiqa needs them)']
    problems = []
    problems += _type_problems(opt)
    if not problems:  # unknown types: their own options cannot be judged
        problems += _dataset_problems(opt['datasets'])
        problems += _network_problems(opt['network'])
    problems += _path_problems(opt['path'])
    return problems


def _type_problems(opt):
    wanted = [('model', 'model_type', opt['model_type']), ('arch', 'network.type', (opt['network'] or {}).get('type'))]
    datasets = opt['datasets'] if isinstance(opt['datasets'], dict) else {}
    if 'train' not in datasets:
        return ['datasets has no train entry']
    for phase, dataset in datasets.items():
        wanted.append(('dataset', f'datasets.{phase}.type', (dataset or {}).get('type')))
        if (dataset or {}).get('base_type'):
            wanted.append(('dataset', f'datasets.{phase}.base_type', dataset['base_type']))
    problems = []
    for kind, key, name in wanted:
        if not name:
            problems.append(f'{key} is not set')
            continue
        try:
            registered(kind, name)
        except PreflightError as err:
            problems.append(f'{key}: {err}')
    return problems


def _dataset_problems(datasets):
    problems, missing, split_files, hints = [], {}, {}, {}
    for phase, options in datasets.items():
        own_check = getattr(registered('dataset', options['type']), 'missing_inputs', None)
        if own_check is not None:
            problems += [f'datasets.{phase}: {line}' for line in own_check(options)]
            continue
        name = options.get('name', phase)
        for key, path in missing_paths(options):  # train and val often name the same files: one line each
            missing.setdefault((key, str(path), name), []).append(f'datasets.{phase}')
            hints.setdefault(name, how_to_get(options))
        split_file = options.get('split_file')
        if split_file and not builds_itself(options) and Path(split_file).expanduser().exists():
            problem = _split_file_problem(split_file, options.get('split_index', 1))  # pyiqa's default index
            if problem:
                split_files.setdefault(problem, []).append(f'datasets.{phase}.split_file')
    hinted = set()
    for (key, path, name), phases in missing.items():
        problems.append(f'{", ".join(phases)} ({name}): the {PATH_KEYS[key]} {path} does not exist.')
        if name not in hinted:
            hinted.add(name)
            problems[-1] += f'\n    {name}: {hints[name]}'
    problems += [f'{", ".join(keys)}: {problem}' for problem, keys in split_files.items()]
    return problems


def _split_file_problem(path, index):
    """What is wrong with a split file for ``split_index`` ``index`` ('' when nothing)."""
    try:
        splits = load_plain_pickle(path)
    except UserError as err:
        return str(err)
    if not isinstance(splits, dict) or not all(isinstance(v, dict) for v in splits.values()):
        return (f'{path} is not a split file ({{split index: {{"train": [rows], "val": [rows], '
                '"test": [rows]}}}}).')
    if index not in splits:
        return f'{path} has no split {index!r} (split_index; it has {", ".join(map(repr, splits))}).'
    return ''


def _network_problems(network):
    arch = registered('arch', network['type'])
    own_check = getattr(arch, 'missing_weights', None)
    if own_check is not None:
        return [f'network: {line}' for line in own_check(network)]
    sources = getattr(arch, 'weight_sources', {})
    problems = []
    for keyword, source in sources.items():
        value = network.get(keyword)
        if weight_kind(value, source) in ('path', 'default'):
            try:
                find_weights(source, value)
            except WeightsNotFoundError as err:
                problems.append(f'network.{keyword}: {err}')
    for keyword in WEIGHT_OPTIONS:
        value = network.get(keyword)
        if keyword not in sources and value is not None and weight_kind(value) == 'path':
            problems += _file_problem(f'network.{keyword}', value)
    return problems


def _path_problems(paths):
    problems = []
    for key in ('pretrain_network', 'resume_state'):
        if (paths or {}).get(key):
            problems += _file_problem(f'path.{key}', paths[key])
    return problems


def _file_problem(key, value):
    path = Path(str(value)).expanduser()
    if path.is_file():
        return []
    return [f'{key}: {value} {"is a folder, not a file" if path.is_dir() else "does not exist"}.']
