"""The protocol's split file of a dataset: per split, a training part, a selection part carved from it, a test part.

Where each split's training and test parts come from, first found:

1. a split file the protocol names (``split_files: {dataset: PKL}``, or ``--split-file``): pyiqa's
   ``{index: {'train': rows, 'val': rows, 'test': rows}}``, its first ``splits`` indices in order;
2. numbered split columns of the dataset's meta-info CSV (pyiqa's ``ratio802_seed123_split_NN``),
   when it has at least ``splits`` of them;
3. otherwise seeded splits written here: ``test_fraction`` of the dataset's *content groups* go to
   test, drawn with ``(seed, split index)``.

A content group is one reference image with all its distorted versions (the meta-info's
``ref_name`` column, or ``photo`` in the bundled photo datasets); a dataset without either has one
group per row. Splitting by group keeps a scene out of the test part when it was trained on, as the
synthetic-distortion datasets (LIVE, CSIQ, TID2013, KADID) must be split.

The selection part (``val``) decides which checkpoint is reported under honest selection. It is the
source split's own ``val`` list when that is non-empty and disjoint from its test list, otherwise
``val_fraction`` of the training groups, carved off with ``(seed, split index)`` and removed from
training. The result is written as a pyiqa split file (atomically), so pyiqa's own datasets read it.
"""
import math
import pickle

import numpy as np

from pyiqa_uniqa.apps.bench.eval.splits import NUMBERED_SPLIT_COLUMN, load_split_file
from pyiqa_uniqa.apps.protocol.request import ProtocolError
from pyiqa_uniqa.files import write_file

GROUP_COLUMNS = ('ref_name', 'photo')


def content_groups(meta_info):
    """One group label per row of the meta-info table (see module doc), and the column used (or None)."""
    for column in GROUP_COLUMNS:
        if column in meta_info.columns:
            return meta_info[column].astype(str).tolist(), column
    return [str(i) for i in range(len(meta_info))], None


def _draw(groups, rows, fraction, rng):
    """The rows of ``ceil(fraction * groups)`` groups (at least one, at most all but one), drawn by ``rng``."""
    names = sorted({groups[i] for i in rows})
    if len(names) < 2:
        raise ProtocolError(f'cannot split {len(names)} content group(s) into two parts; the dataset is too small.')
    count = min(max(1, math.ceil(fraction * len(names))), len(names) - 1)
    drawn = {names[i] for i in rng.permutation(len(names))[:count]}
    return [i for i in rows if groups[i] in drawn]


def source_splits(meta_info, count, seed, test_fraction, split_file=None):
    """``[(train rows, val rows, test rows)] * count`` and a sentence saying where they came from."""
    if split_file:
        stored = load_split_file(split_file)
        keys = sorted(stored, key=lambda k: (str(type(k)), k))[:count]
        if len(keys) < count:
            raise ProtocolError(f'{split_file} holds {len(stored)} split(s); the protocol asks for {count}.')
        parts = [tuple([int(i) for i in stored[k].get(phase, [])] for phase in ('train', 'val', 'test')) for k in keys]
        bad = [i for part in parts for rows in part for i in rows if not 0 <= i < len(meta_info)]
        if bad:
            raise ProtocolError(f'{split_file}: rows {bad[:5]} are outside the dataset\'s {len(meta_info)} rows '
                                '(a split file of another dataset?).')
        return parts, f'split file {split_file}, indices {", ".join(map(str, keys))}'
    columns = [c for c in meta_info.columns if NUMBERED_SPLIT_COLUMN.match(str(c))]
    if len(columns) >= count:
        parts = [tuple([i for i, v in enumerate(meta_info[c]) if v == phase] for phase in ('train', 'val', 'test'))
                 for c in sorted(columns)[:count]]
        return parts, f'meta-info split columns {", ".join(sorted(columns)[:count])}'
    groups, column = content_groups(meta_info)
    parts = []
    for index in range(1, count + 1):
        rows = list(range(len(meta_info)))
        test = set(_draw(groups, rows, test_fraction, np.random.default_rng([seed, index])))
        parts.append(([i for i in rows if i not in test], [], sorted(test)))
    by = f'by {column}' if column else 'by row'
    return parts, f'seeded {1 - test_fraction:.0%}/{test_fraction:.0%} splits {by} (seed {seed})'


def protocol_splits(meta_info, parts, seed, val_fraction):
    """``{index: {'train', 'val', 'test'}}`` from source parts, the selection part carved where needed."""
    groups, _ = content_groups(meta_info)
    splits = {}
    for index, (train, val, test) in enumerate(parts, start=1):
        if not train or not test:
            raise ProtocolError(f'split {index} has an empty training or test part.')
        if not val or set(val) & set(test):
            val = _draw(groups, train, val_fraction, np.random.default_rng([seed, index, 1]))
        chosen = set(val)
        splits[index] = {'train': sorted(i for i in train if i not in chosen), 'val': sorted(chosen),
                         'test': sorted(test)}
    return splits


def write_split_file(path, splits):
    """Write ``splits`` as a pyiqa split pickle, atomically; an existing file must hold the same splits."""
    if path.exists():
        existing = load_split_file(path)
        if existing != splits:
            raise ProtocolError(f'{path} holds other splits than this protocol makes (another protocol, seed or '
                                'dataset wrote it); choose another --out or delete the folder.')
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, pickle.dumps(splits))
