"""Which images each evaluation split holds, as row indices into the un-split dataset.

pyiqa knows two split conventions:
- a split pickle ``{index: {'train': [...], 'val': [...], 'test': [...]}}`` (``split_file`` plus
  ``split_index``, from 1), whose lists index the dataset's rows;
- split columns in the meta-info CSV (``split_index: official_split``, or an int N meaning the
  column ``ratio{split_ratio}_seed123_split_{N:02d}``), whose values are compared with the phase.

Every split is turned into indices of one un-split dataset, so each image is scored once however
many splits use it (``--split-index all`` costs one pass, not ten). Split pickles are read with
``safe_pickle.load_plain_pickle``, which only builds lists, dicts, numbers and numpy arrays: a
pickle that asks for anything else is refused, never run.
"""
import re
from dataclasses import dataclass

from pyiqa_uniqa.errors import InvalidOptionError
from pyiqa_uniqa.safe_pickle import UnreadablePickleError, UnsafePickleError, load_plain_pickle

NUMBERED_SPLIT_COLUMN = re.compile(r'^ratio\w+_seed\d+_split_\d+$')


class SplitError(InvalidOptionError):
    pass


@dataclass
class Split:
    label: str  # e.g. '1', 'official_split', 'all images'
    indices: list  # rows of the un-split dataset


def load_split_file(path):
    """Read a pyiqa split pickle without running code; return ``{index: {phase: [rows]}}``."""
    try:
        data = load_plain_pickle(path)
    except UnsafePickleError as err:
        raise SplitError(str(err)) from None
    except UnreadablePickleError as err:
        raise SplitError(f'{path}: not a readable split pickle ({err})') from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise SplitError(f'{path}: expected {{split index: {{"train"/"val"/"test": [rows]}}}}')
    return data


def _pick_indices(available, wanted, what):
    if wanted == 'all':
        return sorted(available, key=str)
    for key in available:
        if str(key) == str(wanted):
            return [key]
    raise SplitError(f'{what} has no split {wanted!r}; it has {", ".join(map(str, sorted(available, key=str)))}')


def splits_from_file(path, split_index, phase, dataset_length):
    """Splits from a pickle: ``split_index`` is a key (int-like) or ``'all'``."""
    split_dict = load_split_file(path)
    splits = []
    for key in _pick_indices(split_dict, split_index, str(path)):
        phases = split_dict[key]
        if phase not in phases:
            raise SplitError(f'{path}: split {key} has no {phase!r} list (it has {", ".join(phases)}); '
                             'choose one with --phase')
        rows = [int(i) for i in phases[phase]]
        bad = [i for i in rows if not 0 <= i < dataset_length]
        if bad:
            raise SplitError(f'{path}: split {key} {phase} rows {bad[:5]} are outside the '
                             f'{dataset_length} rows of the dataset (wrong meta-info file?)')
        splits.append(Split(str(key), rows))
    return splits


def column_name(split_index, options):
    if isinstance(split_index, int) or str(split_index).isdigit():
        return f'ratio{options.get("split_ratio", "802")}_seed123_split_{int(split_index):02d}'
    return str(split_index)


def split_columns(meta_info_file):
    """Split column names of a meta-info CSV: the numbered ones if any, else all ``*split*`` ones."""
    import pandas as pd

    columns = [c for c in pd.read_csv(meta_info_file, nrows=0).columns if 'split' in c]
    numbered = [c for c in columns if NUMBERED_SPLIT_COLUMN.match(c)]
    return numbered or columns


def row_keys(dataset):
    """A hashable identity for each row of a pyiqa dataset (its ``paths_mos`` entry)."""
    return [tuple(str(x) for x in entry) for entry in dataset.paths_mos]


def splits_from_columns(columns, build_split_dataset, full_keys):
    """Splits from meta-info columns: pyiqa's dataset filters the rows, we map them back.

    ``build_split_dataset(column)`` builds the pyiqa dataset restricted to that column, so the
    selection is exactly pyiqa's (quirks included); ``full_keys`` are ``row_keys`` of the un-split one.
    """
    position = {}
    for i, key in enumerate(full_keys):
        position.setdefault(key, []).append(i)
    splits = []
    for column in columns:
        taken = {key: list(rows) for key, rows in position.items()}
        rows = [taken[key].pop(0) for key in row_keys(build_split_dataset(column))]
        splits.append(Split(column, rows))
    return splits
