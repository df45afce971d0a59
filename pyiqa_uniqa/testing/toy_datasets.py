"""A 20-image dataset in pyiqa's own layout (meta-info CSV + split pickle), for training tests."""
import pickle

import numpy as np
import pandas as pd
from PIL import Image


def write_toy_iqa_dataset(root, kind='nr'):
    """20 flat 40x48 images under ``root/img`` with MOS 0..19, ``meta.csv`` and a seed123-style
    ``split.pkl`` ({1: {'train': rows 0-15, 'val': rows 16-19}}). ``kind`` 'fr' adds ``ref_name``."""
    (root / 'img').mkdir(parents=True)
    rows = []
    for i in range(20):
        Image.fromarray(np.full((40, 48, 3), i * 10, dtype=np.uint8)).save(root / 'img' / f'{i}.png')
        rows.append({'ref_name': 'img/0.png', 'dist_name': f'img/{i}.png', 'mos': i} if kind == 'fr'
                    else {'img_name': f'img/{i}.png', 'mos': i})
    pd.DataFrame(rows).to_csv(root / 'meta.csv', index=False)
    with open(root / 'split.pkl', 'wb') as f:
        pickle.dump({1: {'train': list(range(16)), 'val': list(range(16, 20))}}, f)
