"""pyiqa-style meta-info CSVs for AGIQA-3K and AIGCIQA2023, with the official CLIP-AGIQA split.

    python -m pyiqa_uniqa.clip_agiqa.meta_info agiqa3k --source AGIQA-3K/data.csv --out meta_info_AGIQA3K.csv
    python -m pyiqa_uniqa.clip_agiqa.meta_info aigciqa2023 --source AIGCIQA2023/DATA/MOS/mosz1.mat \
        --out meta_info_AIGCIQA2023.csv

Output columns: image path (relative to the dataset root), MOS, ``split`` (train/test). The
split reproduces the official code's ``train_test_split(test_size=0.2, random_state=42)``: a
``RandomState(42)`` permutation whose first ceil(20%) rows are the test set.
AGIQA-3K: ``data.csv`` columns ``name`` and ``mos_quality`` (``--target mos_align`` for
alignment). AIGCIQA2023: the ``MOSz`` array of ``mosz1.mat`` (quality; mosz2 authenticity,
mosz3 correspondence), image ``i`` being ``Image/allimg/<i>.png`` as in the official mat2csv.
"""
import argparse
import math

import numpy as np


def official_split(count, test_fraction=0.2, seed=42):
    """['train'|'test'] * count, identical to sklearn's train_test_split(test_size, random_state)."""
    test_count = math.ceil(test_fraction * count)
    order = np.random.RandomState(seed).permutation(count)
    split = np.full(count, 'train', dtype=object)
    split[order[:test_count]] = 'test'
    return split.tolist()


def agiqa3k_table(data_csv, target='mos_quality'):
    import pandas as pd
    table = pd.read_csv(data_csv)
    for column in ('name', target):
        if column not in table.columns:
            raise ValueError(f'{data_csv}: no column {column!r} (AGIQA-3K data.csv has name, mos_quality, mos_align).')
    return pd.DataFrame({'img_name': table['name'], 'mos': table[target].astype(float),
                         'split': official_split(len(table))})


def aigciqa2023_table(mos_mat, image_folder='Image/allimg', key='MOSz'):
    import pandas as pd
    from scipy.io import loadmat
    data = loadmat(mos_mat)
    if key not in data:
        raise ValueError(f'{mos_mat}: no {key!r} array (found {[k for k in data if not k.startswith("__")]}).')
    mos = np.asarray(data[key], dtype=float).reshape(-1)
    return pd.DataFrame({'img_name': [f'{image_folder}/{i}.png' for i in range(len(mos))], 'mos': mos,
                         'split': official_split(len(mos))})


def main(argv=None):
    parser = argparse.ArgumentParser(description='Write pyiqa meta-info CSVs for AGIQA-3K / AIGCIQA2023.')
    parser.add_argument('dataset', choices=['agiqa3k', 'aigciqa2023'])
    parser.add_argument('--source', required=True, help='AGIQA-3K data.csv, or AIGCIQA2023 mosz1.mat')
    parser.add_argument('--out', required=True)
    parser.add_argument('--target', default='mos_quality', help='AGIQA-3K MOS column')
    args = parser.parse_args(argv)
    table = agiqa3k_table(args.source, args.target) if args.dataset == 'agiqa3k' else aigciqa2023_table(args.source)
    table.to_csv(args.out, index=False)
    print(f'wrote {args.out}: {len(table)} images, {sum(s == "test" for s in table["split"])} in the test split')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
