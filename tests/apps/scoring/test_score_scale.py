"""`score` at scale: resume after a kill, a changed option, shards + --merge, two torchrun processes."""
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from conftest import spec_text
from PIL import Image

from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.apps.scoring.table import read_table


@pytest.fixture(scope='module')
def many_images(tmp_path_factory):
    folder = tmp_path_factory.mktemp('many')
    rng = np.random.default_rng(1)
    for i in range(48):
        size = (64, 64) if i % 3 else (48, 72)
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f'{i:03d}.png')
    (folder / 'broken.jpg').write_bytes(b'\xff\xd8\xff\xe0 not really a jpeg')
    return folder


@pytest.fixture(scope='module')
def uniqa_spec(tiny_specs):
    return spec_text(*tiny_specs['uniqa'])


@pytest.fixture(scope='module')
def reference_table(many_images, uniqa_spec, tmp_path_factory):
    """The single-process, uninterrupted table."""
    out = tmp_path_factory.mktemp('single') / 'all.csv'
    assert main(['score', '-m', uniqa_spec, 'piqe', '--images', str(many_images), '--out', str(out),
                 '--device', 'cpu', '--batch-size', '4', '--num-workers', '0', '--no-progress']) == 0
    return read_table(out)


def _command(*args):
    return [sys.executable, '-m', 'pyiqa_uniqa', 'score', *args]


def _environment():
    return {**os.environ, 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1'}


def _assert_same_table(table, reference):
    assert table['path'].tolist() == reference['path'].tolist()
    assert table['error'].tolist() == reference['error'].tolist()
    assert list(table.columns) == list(reference.columns)
    for name in ('uniqa', 'piqe'):
        np.testing.assert_allclose(table[name].to_numpy(float), reference[name].to_numpy(float), rtol=1e-5)


def test_a_kill_mid_run_then_a_rerun_scores_every_image_exactly_once(many_images, uniqa_spec, reference_table, tmp_path):
    out = tmp_path / 'scores.csv'
    journal = tmp_path / 'scores.csv.journal' / 'main.jsonl'
    args = ['-m', uniqa_spec, 'piqe', '--images', str(many_images), '--out', str(out), '--device', 'cpu',
            '--batch-size', '4', '--num-workers', '1', '--no-progress']
    process = subprocess.Popen(_command(*args), env=_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if journal.is_file() and journal.read_bytes().count(b'\n') >= 8:
            break
        time.sleep(0.005)
    assert process.poll() is None, f'finished before the kill: {process.stderr.read().decode()[-2000:]}'
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists()
    lines_before = journal.read_bytes().count(b'\n')
    assert 8 <= lines_before < 2 * 49
    with open(journal, 'ab') as f:
        f.write(b'{"column": "uniqa:score#cut", "path": "')  # as if killed inside a write
    rerun = subprocess.run(_command(*args), env=_environment(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert 'from the journal' in rerun.stderr
    _assert_same_table(read_table(out), reference_table)
    records = [json.loads(line) for line in journal.read_text().splitlines()]  # the cut line is gone
    results = Counter((r['column'], r['path']) for r in records if 'error' not in r)
    assert len(results) == 2 * 48 and set(results.values()) == {1}


def test_a_changed_option_starts_a_new_column(many_images, tiny_specs, tmp_path, capsys):
    name, options = tiny_specs['uniqa']
    out = tmp_path / 'uniqa.csv'
    base = ['--images', str(many_images), '--out', str(out), '--num-workers', '0', '--no-progress']
    for crops, cached in ((2, 0), (3, 0), (2, 48)):
        assert main(['score', '-m', spec_text(name, {**options, 'num_crops': crops}), *base]) == 0
        assert f'({48 - cached} scored now' in capsys.readouterr().err
    records = [json.loads(line) for line in (tmp_path / 'uniqa.csv.journal' / 'main.jsonl').read_text().splitlines()]
    assert len({r['column'] for r in records}) == 2


def test_two_shards_merge_to_the_single_process_table(many_images, uniqa_spec, reference_table, tmp_path):
    parts = []
    for shard in ('0/2', '1/2'):
        part = tmp_path / f'part{shard[0]}.parquet'
        assert main(['score', '-m', uniqa_spec, 'piqe', '--images', str(many_images), '--out', str(part),
                     '--shard', shard, '--batch-size', '4', '--num-workers', '0', '--no-progress']) == 0
        parts.append(part)
        assert 20 < len(read_table(part)) < 30
    merged = tmp_path / 'merged.csv'
    assert main(['score', '--merge', *map(str, parts), '--out', str(merged)]) == 0
    _assert_same_table(read_table(merged), reference_table)


def test_two_torchrun_processes_merge_to_the_single_process_table(many_images, uniqa_spec, reference_table, tmp_path):
    out = tmp_path / 'ranks.jsonl'
    command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '-m',
               'pyiqa_uniqa', 'score', '-m', uniqa_spec, 'piqe', '--images', str(many_images), '--out', str(out),
               '--device', 'cpu', '--batch-size', '4', '--num-workers', '0', '--no-progress']
    done = subprocess.run(command, env=_environment(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    journals = sorted(p.name for p in (tmp_path / 'ranks.jsonl.journal').iterdir())
    assert journals == ['rank-0-of-2.jsonl', 'rank-1-of-2.jsonl']
    _assert_same_table(read_table(out), reference_table)


def test_merge_refuses_overlapping_shards(many_images, tmp_path, capsys):
    part = tmp_path / 'part.csv'
    assert main(['score', '-m', 'piqe', '--images', str(many_images), '--out', str(part), '--shard', '0/3',
                 '--num-workers', '0', '--no-progress']) == 0
    assert main(['score', '--merge', str(part), str(part), '--out', str(tmp_path / 'm.csv')]) == 2
    assert 'more than one' in capsys.readouterr().err
    assert not (tmp_path / 'm.csv').exists()
    assert Counter(pd.read_csv(part)['path']).most_common(1)[0][1] == 1
