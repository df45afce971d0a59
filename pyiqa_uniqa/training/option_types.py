"""The shape of a training recipe, checked before anything reads its values.

pyiqa reads a recipe's values as it goes, so a list where a mapping belongs, a number as a dataset
type or a seed of 10**30 ends in an ``AttributeError``, a ``TypeError`` or numpy's "Seed must be
between 0 and 2**32 - 1" somewhere inside it, once folders exist. ``type_problems`` reports every
such value at once, one line each naming the key and what it must be:

- sections (``datasets``, ``network``, ``path``, ``train``, ``logger``, and ``val`` when given) and
  each dataset are mappings; keys are text;
- types and names (``model_type``, ``network.type``, ``datasets.<phase>.type``, ``name``...) are
  text, and files (the dataset paths, ``path.pretrain_network``...) text or, for datasets, lists of text;
- counts (``train.total_iter``, ``batch_size_per_gpu``, ``logger.print_freq``, ``manual_seed``...)
  are whole numbers in their range (pyiqa's recipes write some as ``!!float 5e3``: whole floats pass).

``name_problems`` keeps the run inside the working folder: pyiqa writes ``experiments/<name>`` and
``tb_logger/<name>`` (and moves an existing folder of that name aside), so a ``name`` that is
absolute or climbs out (``../../escaped_run``) is refused before anything is created.
"""
import math

from pyiqa_uniqa.data.dataset_files import PATH_KEYS
from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.files import inside_folder

SECTIONS = ('datasets', 'network', 'path', 'train', 'logger')
OPTIONAL_SECTIONS = ('val', 'dist_params')
# dotted key ('*' = each dataset) -> (what it must be, whether it must be set)
TEXT = {'name': True, 'model_type': True, 'network.type': True, 'datasets.*.type': True,
        'datasets.*.base_type': False, 'datasets.*.name': False}
FILES = ('path.pretrain_network', 'path.pretrain_network_g', 'path.resume_state')
BIG = 10 ** 12
# dotted key -> (lowest, highest); 'num_gpu' may also be 'auto'
WHOLE = {'num_gpu': (0, 1024), 'manual_seed': (0, 2 ** 32 - 1 - 1024),  # numpy's seed range, less the rank added
         'train.total_iter': (1, BIG), 'train.total_epoch': (1, BIG), 'train.warmup_iter': (-1, BIG),
         'datasets.*.batch_size_per_gpu': (1, 2 ** 20), 'datasets.*.num_worker_per_gpu': (0, 1024),
         'datasets.*.dataset_enlarge_ratio': (1, 2 ** 20),
         'val.val_freq': (1, BIG), 'logger.print_freq': (1, BIG), 'logger.save_checkpoint_freq': (1, BIG),
         'logger.save_latest_freq': (1, BIG)}


class OptionTypeError(UserError, ValueError):
    """A recipe's value is not of the kind its key takes."""


def type_problems(opt):
    """One line per value of the wrong kind (module doc); empty when the recipe has its shape."""
    problems = []
    for section in SECTIONS + OPTIONAL_SECTIONS:
        value = opt.get(section)
        if value is None and section in SECTIONS and section in opt:  # 'path:' with nothing after it
            problems.append(f'{section} is empty (null); it must be a mapping: write {section}: {{}} for none')
        elif value is not None and not isinstance(value, dict):
            problems.append(f'{section} is {_kind(value)}; it must be a mapping (key: value, ...)')
    datasets = opt.get('datasets') if isinstance(opt.get('datasets'), dict) else {}
    for phase, dataset in datasets.items():
        if not isinstance(phase, str):
            problems.append(f'datasets has the key {phase!r}; dataset phases are names (train, val, ...)')
        elif not isinstance(dataset, dict):
            problems.append(f'datasets.{phase} is {_kind(dataset)}; it must be a mapping (type: ..., name: ...)')
    problems += [f'{key} is not set' for key, value in _values(opt, TEXT) if value is None and TEXT[_pattern(key)]]
    problems += [f'{key} is {_kind(value)}; it must be text' for key, value in _values(opt, TEXT)
                 if value is not None and not isinstance(value, str)]
    problems += [f'{key} is {_kind(value)}; it must be a file path' for key, value in _values(opt, FILES)
                 if value is not None and not isinstance(value, str)]
    dataset_files = [f'datasets.*.{key}' for key in PATH_KEYS]
    problems += [f'{key} is {_kind(value)}; it must be a path or a list of paths'
                 for key, value in _values(opt, dataset_files) if value is not None and not _paths(value)]
    for key, value in _values(opt, WHOLE):
        low, high = WHOLE[_pattern(key)]
        if value is None or (key == 'num_gpu' and value == 'auto'):
            continue
        if not _whole(value) or not low <= value <= high:
            problems.append(f'{key} is {_kind(value)}; it must be a whole number from {low:,} to {high:,}')
    return problems


def name_problems(opt, root):
    """The problem with ``opt['name']`` as a folder inside ``root/experiments`` ('' when none)."""
    name = opt.get('name')
    if not isinstance(name, str) or not name:
        return []  # type_problems says so
    if '\0' in name:
        return [f'name {name!r} holds a NUL character; the run is saved in a folder of that name']
    try:
        for folder in ('experiments', 'tb_logger'):
            inside_folder(root / folder, name, source='name', what='working folder\'s ' + folder)
    except UserError as err:
        return [f'{err} The run is saved in experiments/<name> and tb_logger/<name>.']
    return []


def _pattern(key):
    """'datasets.train.type' -> 'datasets.*.type'."""
    parts = key.split('.')
    return '.'.join(['datasets', '*', *parts[2:]]) if parts[0] == 'datasets' and len(parts) > 2 else key


def _values(opt, keys):
    """``(dotted key, value)`` for each of ``keys`` present in ``opt`` (each dataset for '*'); None where
    the key is absent, for keys of mappings that exist."""
    for pattern in keys:
        section, *rest = pattern.split('.')
        if not rest:
            yield pattern, opt.get(section)
            continue
        blocks = opt.get(section)
        if not isinstance(blocks, dict):
            continue
        if rest[0] == '*':
            for phase, block in blocks.items():
                if isinstance(phase, str) and isinstance(block, dict):
                    yield f'{section}.{phase}.{rest[1]}', block.get(rest[1])
        else:
            yield pattern, blocks.get(rest[0])


def _whole(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _paths(value):
    return isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))


def _kind(value):
    kind = type(value).__name__
    kind = f'{"an" if kind[0] in "aeiou" else "a"} {kind}'
    if isinstance(value, (dict, list)):
        return kind
    shown = repr(value)
    return f'{shown if len(shown) <= 40 else shown[:37] + "..."} ({kind})'
