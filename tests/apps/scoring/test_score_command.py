"""`pyiqa-uniqa score`: every score equals create_metric(...)(path); bad images are listed; inputs."""
import csv
import json
import math
import os

import numpy as np
import pandas as pd
import pyiqa
import pytest
import torch
from conftest import spec_text
from PIL import Image, ImageFile

from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.apps.scoring.engine import score_images


def _direct(name, options, path, ref=None):
    metric = pyiqa.create_metric(name, device='cpu', **options)
    with torch.no_grad():
        out = metric(path, ref, return_attributes=True) if name == 'attiqa' else (
            metric(path, ref) if ref else metric(path))
    if isinstance(out, tuple):
        return float(out[0]), {k: float(v) for k, v in out[1].items()}
    return float(out), {}


@pytest.fixture(scope='module')
def table(photo_pairs, tiny_specs, tmp_path_factory):
    out = tmp_path_factory.mktemp('score') / 'scores.csv'
    argv = ['score', '-m', *[spec_text(*spec) for spec in tiny_specs.values()], '--images', str(photo_pairs / 'dist'),
            '--ref', str(photo_pairs / 'ref'), '--out', str(out), '--device', 'cpu', '--batch-size', '3',
            '--num-workers', '1', '--no-progress']
    with pytest.MonkeyPatch.context() as patch:
        # what importing pyiqa's AVA dataset module does: PIL pads truncated files with grey from then on
        patch.setattr(ImageFile, 'LOAD_TRUNCATED_IMAGES', True)
        assert main(argv) == 0
    return out


def test_every_score_equals_create_metric_on_the_path(table, tiny_specs, photo_pairs):
    rows = pd.read_csv(table, keep_default_na=False)
    good = rows[rows['error'] == '']
    assert len(good) == 8 and len(rows) == 10
    for row in good.itertuples():
        for label, (name, options) in tiny_specs.items():
            ref = row.ref if name == 'psnr' else None
            expected, attributes = _direct(name, options, row.path, ref)
            assert float(getattr(row, label)) == pytest.approx(expected, rel=1e-5, abs=1e-6), (label, row.path)
            for attribute, value in attributes.items():
                assert float(rows.loc[row.Index, f'attiqa.{attribute}']) == pytest.approx(value, rel=1e-5, abs=1e-6)
    assert {'attiqa.sharpness', 'attiqa.noisiness'} <= set(rows.columns)


def test_unreadable_images_are_listed_with_the_reason_and_the_rest_is_scored(table, photo_pairs):
    with open(table, newline='') as f:
        rows = {r['path']: r for r in csv.DictReader(f)}
    for name in ('truncated.png', 'notes.png'):
        row = rows[str(photo_pairs / 'dist' / name)]
        assert row['error'] and all(row[m] == '' for m in ('uniqa', 'piqe', 'psnr', 'attiqa'))
    assert 'truncated' in rows[str(photo_pairs / 'dist' / 'truncated.png')]['error']
    assert sum(1 for r in rows.values() if r['error'] == '') == 8


def test_python_api_returns_the_same_table(table, tiny_specs, photo_pairs):
    saved = pd.read_csv(table, keep_default_na=False)
    good = saved[saved['error'] == '']
    frame = score_images(list(good['path']), ['piqe', spec_text(*tiny_specs['uniqa'])], refs=list(good['ref']),
                         device='cpu', num_workers=0, progress=False)
    assert list(frame.columns) == ['path', 'ref', 'piqe', 'uniqa', 'error']
    assert frame['path'].tolist() == good['path'].tolist()
    assert frame['piqe'].tolist() == pytest.approx(good['piqe'].astype(float).tolist(), rel=1e-6)
    assert frame['uniqa'].tolist() == pytest.approx(good['uniqa'].astype(float).tolist(), rel=1e-6)


def test_a_full_reference_row_without_a_reference_fails_alone(photo_pairs, tmp_path):
    listing = tmp_path / 'pairs.csv'
    dist, ref = photo_pairs / 'dist', photo_pairs / 'ref'
    listing.write_text(f'image,ref\n{dist}/im0.png,{ref}/im0.png\n{dist}/im1.png,\n{dist}/im2.png,{ref}/missing.png\n')
    out = tmp_path / 'fr.jsonl'
    assert main(['score', '-m', 'psnr', 'piqe', '--images', str(listing), '--out', str(out), '--device', 'cpu',
                 '--num-workers', '0', '--no-progress']) == 0
    rows = pd.read_json(out, lines=True)
    by_path = {r.path: r for r in rows.itertuples()}
    assert math.isfinite(by_path[f'{dist}/im0.png'].psnr) and by_path[f'{dist}/im0.png'].error == ''
    no_ref = by_path[f'{dist}/im1.png']
    assert math.isnan(no_ref.psnr) and math.isfinite(no_ref.piqe) and 'psnr: ' in no_ref.error and 'no reference' in no_ref.error
    assert 'missing.png' in by_path[f'{dist}/im2.png'].error


def test_inputs_glob_list_and_names_outside_the_root(photo_pairs, tmp_path):
    dist = photo_pairs / 'dist'
    out_glob = tmp_path / 'glob.csv'
    assert main(['score', '-m', 'piqe', '--images', f'{dist}/**/im[0-3].png', '--out', str(out_glob),
                 '--num-workers', '0', '--no-progress']) == 0
    assert sorted(pd.read_csv(out_glob)['path']) == sorted(str(p) for p in dist.rglob('im[0-3].png'))
    listing = dist / 'list.txt'
    listing.write_text('# my images\nim0.png\n\nsub/im3.png\n../ref/im0.png\nim0.png\n')
    out = tmp_path / 'list.csv'
    assert main(['score', '-m', 'piqe', '--images', str(listing), '--out', str(out), '--num-workers', '0',
                 '--no-progress']) == 0
    rows = pd.read_csv(out, keep_default_na=False)
    assert rows['path'].tolist() == [str(dist / '../ref/im0.png'), str(dist / 'im0.png'), str(dist / 'sub/im3.png')]
    escaped = rows.iloc[0]
    assert escaped['piqe'] == '' and '..' in escaped['error'] and 'list.txt, line 5' in escaped['error']
    listing.unlink()


@pytest.mark.parametrize('argv, message', [
    (['-m', 'piqe', '--out', 'x.csv'], '--images is required'),
    (['-m', 'piqe', '--images', 'nowhere/', '--out', 'x.csv'], 'no such folder'),
    (['-m', 'piqe', '--images', '.', '--out', 'x.xlsx'], 'unknown table format'),
    (['-m', 'piqe', '--images', '.', '--out', 'x.csv'], 'no images in folder'),  # before torch is imported
    (['-m', 'no_such_metric', '--images', 'imgs', '--out', 'x.csv'], 'unknown metric'),
    (['-m', 'piqe', '--images', 'imgs', '--out', 'x.csv', '--precision', 'fp16'], 'no reduced-precision mode'),
    (['-m', 'piqe', '--images', 'imgs', '--out', 'x.csv', '--describe'], 'none of the metrics describes'),
])
def test_user_mistakes_are_one_line_with_status_2_and_write_nothing(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    images = tmp_path / 'imgs'
    if 'imgs' in argv:
        images.mkdir()
        Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(images / 'a.png')
    assert main(['score', *argv, '--no-progress']) == 2
    err = capsys.readouterr().err
    assert err.startswith('pyiqa-uniqa score: error: ') and message in err and 'Traceback' not in err
    assert [p for p in tmp_path.iterdir() if p != images] == []  # nothing written
    assert not images.exists() or len(list(images.iterdir())) == 1


def test_precision_goes_to_metrics_that_take_it_and_is_part_of_the_column(photo_pairs, tmp_path, monkeypatch):
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    from pyiqa_uniqa.parts import nr_metric

    monkeypatch.setitem(DEFAULT_CONFIGS, 'tiny-iqa', nr_metric('TinyIQANet', crop_size=32))  # takes precision=
    paths = [str(photo_pairs / 'dist' / f'im{i}.png') for i in range(3)]
    out = tmp_path / 'bf16.csv'
    base = ['-m', 'tiny-iqa', '--images', f'{photo_pairs}/dist/im[0-2].png', '--out', str(out), '--device', 'cpu',
            '--num-workers', '0', '--no-progress']
    torch.manual_seed(0)  # the tiny head is initialised from the global generator
    assert main(['score', *base, '--precision', 'bf16']) == 0
    torch.manual_seed(0)
    metric = pyiqa.create_metric('tiny-iqa', device='cpu', precision='bf16')
    with torch.no_grad():
        expected = [float(metric(path)) for path in paths]
    assert pd.read_csv(out)['tiny-iqa'].tolist() == pytest.approx(expected, rel=1e-5)
    torch.manual_seed(0)
    assert main(['score', *base]) == 0  # fp32: a column of its own in the same journal
    journal = (tmp_path / 'bf16.csv.journal' / 'main.jsonl').read_text().splitlines()
    assert len({json.loads(line)['column'] for line in journal}) == 2


def test_the_summary_names_the_threads_readers_and_batch_it_ran_with(photo_pairs, tmp_path, capsys):
    dist = photo_pairs / 'dist'
    assert main(['score', '-m', 'piqe', '--images', str(dist), '--out', str(tmp_path / 'given.csv'), '--threads', '1',
                 '--num-workers', '0', '--no-progress', '--device', 'cpu']) == 0
    assert 'images/s with 1 thread, 0 readers, batch 1,' in capsys.readouterr().err
    assert main(['score', '-m', 'piqe', '--images', str(dist), '--out', str(tmp_path / 'default.csv'),
                 '--no-progress', '--device', 'cpu']) == 0
    line = next(line for line in capsys.readouterr().err.splitlines() if 'images/s with' in line)
    threads = int(line.split('images/s with ')[1].split(' thread')[0])
    assert 1 <= threads <= len(os.sched_getaffinity(0)) and 'batch 1,' in line
