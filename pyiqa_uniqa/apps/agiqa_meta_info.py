"""``pyiqa-uniqa agiqa-meta-info``: pyiqa meta-info CSVs for AGIQA-3K and AIGCIQA2023, official split.

    pyiqa-uniqa agiqa-meta-info agiqa3k --source AGIQA-3K/data.csv --out meta_info_AGIQA3K.csv
    pyiqa-uniqa agiqa-meta-info aigciqa2023 --source AIGCIQA2023/DATA/MOS/mosz1.mat --out meta_info_AIGCIQA2023.csv

(``python -m pyiqa_uniqa.apps.agiqa_meta_info ...`` is the same command.)

Output columns: image path (relative to the dataset root), MOS, ``split`` (train/test). The
split reproduces the official code's ``train_test_split(test_size=0.2, random_state=42)``: a
``RandomState(42)`` permutation whose first ceil(20%) rows are the test set.
AGIQA-3K: ``data.csv`` columns ``name`` and ``mos_quality`` (``--target mos_align`` for
alignment). AIGCIQA2023: the ``MOSz`` array of ``mosz1.mat`` (quality; mosz2 authenticity,
mosz3 correspondence), image ``i`` being ``Image/allimg/<i>.png`` as in the official mat2csv.
"""
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.io import loadmat

from pyiqa_uniqa.errors import InvalidInputError
from pyiqa_uniqa.files import atomic_write


class MetaInfoError(InvalidInputError):
    """A source file that is missing or not what the dataset ships."""


def _source(path):
    path = Path(path)
    if not path.is_file():
        raise MetaInfoError(f'--source {path}: no such file.')
    return path


def official_split(count, test_fraction=0.2, seed=42):
    """['train'|'test'] * count, identical to sklearn's train_test_split(test_size, random_state)."""
    test_count = math.ceil(test_fraction * count)
    order = np.random.RandomState(seed).permutation(count)
    split = np.full(count, 'train', dtype=object)
    split[order[:test_count]] = 'test'
    return split.tolist()


def agiqa3k_table(data_csv, target='mos_quality'):
    try:
        table = pd.read_csv(_source(data_csv))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise MetaInfoError(f'--source {data_csv} is not a readable CSV ({err}).') from err
    for column in ('name', target):
        if column not in table.columns:
            raise MetaInfoError(f'{data_csv}: no column {column!r} '
                                '(AGIQA-3K data.csv has name, mos_quality, mos_align).')
    return pd.DataFrame({'img_name': table['name'], 'mos': table[target].astype(float),
                         'split': official_split(len(table))})


def aigciqa2023_table(mos_mat, image_folder='Image/allimg', key='MOSz'):
    try:
        data = loadmat(_source(mos_mat))
    except (ValueError, TypeError, OSError) as err:  # scipy's errors for a file that is no .mat
        raise MetaInfoError(f'--source {mos_mat} is not a readable MATLAB file ({err}).') from err
    if key not in data:
        raise MetaInfoError(f'{mos_mat}: no {key!r} array (found {[k for k in data if not k.startswith("__")]}).')
    mos = np.asarray(data[key], dtype=float).reshape(-1)
    return pd.DataFrame({'img_name': [f'{image_folder}/{i}.png' for i in range(len(mos))], 'mos': mos,
                         'split': official_split(len(mos))})


def add_arguments(parser):
    parser.add_argument('dataset', choices=['agiqa3k', 'aigciqa2023'])
    parser.add_argument('--source', required=True, help='AGIQA-3K data.csv, or AIGCIQA2023 mosz1.mat')
    parser.add_argument('--out', required=True, help='meta-info CSV to write')
    parser.add_argument('--target', default='mos_quality', help='AGIQA-3K MOS column (mos_align for alignment)')


def run(args):
    table = agiqa3k_table(args.source, args.target) if args.dataset == 'agiqa3k' else aigciqa2023_table(args.source)
    with atomic_write(args.out, newline='') as handle:
        table.to_csv(handle, index=False)
    print(f'wrote {args.out}: {len(table)} images, {sum(s == "test" for s in table["split"])} in the test split')
    return 0


if __name__ == '__main__':
    from pyiqa_uniqa.apps.cli import main
    raise SystemExit(main(['agiqa-meta-info', *sys.argv[1:]]))
