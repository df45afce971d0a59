"""`pyiqa-uniqa bench` on a folder with good and bad images, plugin and pyiqa metrics side by side."""
import csv

import numpy as np
import pytest
from PIL import Image

from pyiqa_uniqa.apps.bench.speed.images import load_bench_images
from pyiqa_uniqa.apps.bench.speed.memory import peak_rss_mib, release_freed_memory, reset_peak_rss, rss_mib
from pyiqa_uniqa.apps.cli import main


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp('images')
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(folder / 'a_rgb.png')
    Image.fromarray(rng.integers(0, 256, (48, 48, 4), dtype=np.uint8), 'RGBA').save(folder / 'b_rgba.png')
    Image.fromarray(rng.integers(0, 65535, (36, 44), dtype=np.uint16)).save(folder / 'c_16bit.png')
    (folder / 'd_truncated.jpg').write_bytes((folder / 'a_rgb.png').read_bytes()[:60])
    (folder / 'e_not_an_image.png').write_text('hello')
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / 'f_tiny.png')
    return folder


def test_bad_files_are_skipped_by_name_and_odd_formats_become_rgb(image_folder):
    images, skipped = load_bench_images(image_folder)
    assert [name for name, _ in images] == ['a_rgb.png', 'b_rgba.png', 'c_16bit.png']
    assert all(t.shape[:2] == (1, 3) and 0 <= t.min() and t.max() <= 1 for _, t in images)
    assert images[2][1].max() > 0.5  # 16-bit values were scaled, not clipped to white
    assert sorted(s.split(':')[0] for s in skipped) == ['d_truncated.jpg', 'e_not_an_image.png', 'f_tiny.png']


def test_the_rss_peak_can_be_reset_per_metric():
    if not reset_peak_rss():
        pytest.skip('this platform keeps a lifetime RSS peak')
    release_freed_memory()  # else the block may reuse heap that earlier tests freed, already resident
    base = rss_mib()
    block = np.ones(64 * 2 ** 20, dtype=np.uint8)  # 64 MiB, touched
    assert peak_rss_mib() - base > 50
    del block
    release_freed_memory()  # as the bench does between metrics
    reset_peak_rss()
    # the freed 64 MiB no longer counts in the peak (without the reset it would stay above base + 64)
    assert peak_rss_mib() - base < 32


def test_bench_table_has_a_row_per_metric(image_folder, tiny_clip_checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.delenv('UNIQA_WEIGHTS', raising=False)
    uniqa = f'uniqa:model_name=tiny-clip-quickgelu,num_crops=2,backbone_weights={tiny_clip_checkpoint}'
    argv = ['bench', '-m', 'psnr', uniqa, 'uniqa-level', '--images', str(image_folder), '--device', 'cpu',
            '--warmup', '1', '--repeats', '1', '--batch-size', '2', '--size', '64', '--out', str(tmp_path / 'out'), '--offline']
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert 'skipped d_truncated.jpg' in captured.err
    with open(tmp_path / 'out' / 'bench.csv', newline='') as f:
        rows = {r['metric']: r for r in csv.DictReader(f)}
    assert list(rows) == ['psnr', 'uniqa', 'uniqa-level']
    for name in ('psnr', 'uniqa'):
        row = rows[name]
        assert row['status'] == 'ok', row
        assert float(row['latency_min_ms']) <= float(row['latency_ms']) <= float(row['latency_max_ms'])
        assert float(row['latency_ms']) > 0 and float(row['throughput']) > 0 and float(row['peak_rss_mib']) >= 0
        assert 0 < float(row['latency_cpu_ms']) and 0 < float(row['throughput_cpu'])
    assert (rows['psnr']['mode'], rows['uniqa']['mode']) == ('FR', 'NR')
    assert rows['uniqa-level']['status'] == 'missing weights' and 'UniQA_weight.pt' in rows['uniqa-level']['message']
    table = (tmp_path / 'out' / 'bench.md').read_text()
    assert '| uniqa | NR |' in table and 'pyiqa-uniqa bench -m psnr' in table


@pytest.mark.parametrize('argv, message', [
    (['--repeats', '0'], '--repeats must be >= 1'),
    (['--images', 'nowhere'], 'not a folder'),
    (['--pipeline', '--images', 'nowhere'], 'no such folder'),
    (['--defaults', '--threads', '2'], 'drop --threads'),
    (['--defaults', '--pipeline'], 'give one of --defaults and --pipeline'),
])
def test_bench_refuses_bad_arguments(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(['bench', '-m', 'psnr', *argv]) == 2
    assert message in capsys.readouterr().err
    assert main(['bench', '-m', 'no_such_metric']) == 2
    assert 'bench: error: unknown metric' in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
