"""Variants take turns and are summarised by median and range; the thread/reader grid; the GPU report's
reduced form (tiny models on the CPU, so the script a GPU run needs keeps working)."""
import math
import re
import subprocess
import sys

from pyiqa_uniqa.apps.bench.speed.alternate import alternate, busy_neighbour, spread
from pyiqa_uniqa.apps.bench.speed.defaults_table import Row, Setting, candidate_settings, defaults_table


def test_variants_take_turns_round_after_round():
    order = []
    results = alternate(['A', 'B'], 3, lambda v: order.append(v) or len(order))
    assert order == ['A', 'B', 'A', 'B', 'A', 'B']
    assert results == {'A': [1, 3, 5], 'B': [2, 4, 6]}


def test_spread_is_the_median_and_range_of_the_finite_values():
    s = spread([3.0, math.nan, 1.0, 10.0])
    assert (s.median, s.low, s.high, s.runs) == (3.0, 1.0, 10.0, 3) and s.relative_spread == 3.0
    assert f'{s:.1f}' == '3.0 (1.0–10.0)' and f'{spread([2.0])}' == '2.00'
    assert math.isnan(spread([math.nan]).median) and f'{spread([])}' == '–'


def test_the_busy_neighbour_runs_only_inside_the_block():
    with busy_neighbour() as _:
        children = subprocess.run(['ps', '--ppid', str(__import__('os').getpid()), '-o', 'args='],
                                  capture_output=True, text=True).stdout
        assert 'while True: pass' in children
    children = subprocess.run(['ps', '--ppid', str(__import__('os').getpid()), '-o', 'args='],
                              capture_output=True, text=True).stdout
    assert 'while True: pass' not in children


def test_the_grid_covers_threads_and_readers_then_the_default():
    assert [str(s) for s in candidate_settings(2)] == [
        '1 thread, 0 readers', '1 thread, 1 reader', '2 threads, 0 readers', '2 threads, 1 reader', 'default']
    assert {(s.threads, s.readers) for s in candidate_settings(4)} >= {(1, 3), (4, 0), (4, 1), (None, None)}
    rows = [Row('piqe', 'idle', Setting(1, 1), spread([10.0, 12.0]), spread([20.0]), 0.05, 1.0),
            Row('piqe', 'idle', Setting(), spread([9.5]), spread([19.0]), 0.05, 0.95)]
    table = defaults_table(rows)
    assert '| piqe | idle | 1 thread, 1 reader | 11.00 (10.00–12.00) | 20.00 | 0.050 | 1.00 |' in table
    assert '| **default** |' in table


def test_the_gpu_report_runs_every_family_in_reduced_form_on_the_cpu():
    done = subprocess.run([sys.executable, '-m', 'pyiqa_uniqa.apps.bench.speed.gpu_report', '--reduced',
                           '--device', 'cpu', '--images', '2', '--precisions', 'fp32', 'bf16'],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    number = r'([\d.]+(?:e-?\d+)?)'
    rows = re.findall(rf'^\| (\S+) \| (fp32|bf16) \| {number} \| {number} \| ([\d.]+)', done.stdout, re.M)
    assert sorted({(name, precision) for name, precision, *_ in rows}) == sorted(
        (name, p) for name in ('attiqa', 'clip-agiqa', 'depictqa', 'uniqa') for p in ('bf16', 'fp32'))
    for name, precision, end_to_end, floor, ratio in rows:
        assert float(end_to_end) > 0 and float(floor) > 0
        # the rates are printed to 3 significant digits, the ratio to 2 decimals
        assert math.isclose(float(ratio), float(end_to_end) / float(floor), rel_tol=0.02, abs_tol=0.006)
