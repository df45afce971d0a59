"""Results are keyed by content: a file overwritten under the same name is scored again, never served stale."""
import os

import numpy as np
import pandas as pd
import pyiqa
import pytest
import torch
from PIL import Image

from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.content_keys import file_key, still_same


def _photo(path, smooth, seed):
    rng = np.random.default_rng(seed)
    if smooth:
        ramp = np.linspace(0, 255, 64)[None, :, None] * np.ones((64, 1, 3))
        array = np.clip(ramp + rng.normal(0, 2, ramp.shape), 0, 255)
    else:
        array = rng.integers(0, 256, (64, 64, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8)).save(path)


def _piqe(path):
    with torch.no_grad():
        return float(pyiqa.create_metric('piqe', device='cpu')(str(path)))


def test_still_same_trusts_the_stamp_and_checks_the_bytes_when_it_differs(tmp_path):
    path = tmp_path / 'a.bin'
    path.write_bytes(b'one')
    key = file_key(path)
    assert still_same(path, key)
    os.utime(path, ns=(1, 1))  # touched: the stamp differs, the bytes do not
    assert still_same(path, key)
    path.write_bytes(b'two')
    assert not still_same(path, key)
    assert not still_same(tmp_path / 'gone.bin', key)
    assert not still_same(path, None)  # a record from before content keys


def test_an_image_overwritten_between_two_runs_is_scored_again(tmp_path, capsys):
    folder = tmp_path / 'photos'
    for i in range(3):
        _photo(folder / f'im{i}.png', smooth=True, seed=i)
    out = tmp_path / 'scores.csv'
    argv = ['score', '-m', 'piqe', '--images', str(folder), '--out', str(out), '--device', 'cpu',
            '--num-workers', '0', '--no-progress']
    assert main(argv) == 0
    first = pd.read_csv(out).set_index('path')['piqe']
    capsys.readouterr()

    _photo(folder / 'im1.png', smooth=False, seed=9)  # new content, same name
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert '1 scored now' in err and '1 of them again because the file changed' in err and '2 from the journal' in err
    second = pd.read_csv(out).set_index('path')['piqe']
    changed = str(folder / 'im1.png')
    assert second[changed] == pytest.approx(_piqe(changed), rel=1e-5)
    assert second[changed] != pytest.approx(first[changed], rel=1e-2)
    assert second.drop(changed).tolist() == first.drop(changed).tolist()


def test_compare_names_the_better_folder_by_what_the_folders_hold_now(tmp_path, capsys):
    a, b = tmp_path / 'gen_a', tmp_path / 'gen_b'
    for i in range(4):
        _photo(a / f'p{i}.png', smooth=True, seed=i)
        _photo(b / f'p{i}.png', smooth=False, seed=10 + i)
    argv = ['compare', str(a), str(b), '-m', 'piqe', '--out', str(tmp_path / 'cmp'), '--device', 'cpu',
            '--num-workers', '0', '--no-progress', '--resamples', '200']
    assert main(argv) == 0
    # piqe (lower is better) calls the noise better than the flat ramp; all that matters is who holds which
    assert pd.read_csv(tmp_path / 'cmp' / 'differences.csv')['better'].tolist() == ['gen_b']
    for i in range(4):  # the generators swap their outputs under the same names
        _photo(a / f'p{i}.png', smooth=False, seed=20 + i)
        _photo(b / f'p{i}.png', smooth=True, seed=30 + i)
    assert main(argv) == 0
    assert pd.read_csv(tmp_path / 'cmp' / 'differences.csv')['better'].tolist() == ['gen_a']
