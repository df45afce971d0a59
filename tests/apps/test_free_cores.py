"""Free cores: the affinity mask less what other processes use, from /proc/stat over a window."""
import os
import subprocess
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyiqa_uniqa.apps import free_cores
from pyiqa_uniqa.apps.free_cores import busy_elsewhere, cpu_ticks, free_of

STAT = """cpu  500 0 300 9000 100 0 10 0 0 0
cpu0 200 0 100 4500 50 0 5 0 0 0
cpu1 300 0 200 4500 50 0 5 0 0 0
intr 12345
ctxt 678
procs_running 2
"""


def test_per_cpu_ticks_are_read_and_the_total_line_is_not():
    assert cpu_ticks(STAT) == {0: (4855, 4550), 1: (5055, 4550)}


def test_busy_time_of_other_processes_on_our_cpus_only():
    before = {0: (0, 0), 1: (0, 0), 2: (0, 0)}
    # over 1 s at 100 Hz: cpu0 fully busy, cpu1 half busy, cpu2 (not ours) fully busy
    after = {0: (100, 0), 1: (100, 50), 2: (100, 0)}
    assert busy_elsewhere(before, after, 1.0, 0.0, cpus={0, 1}) == pytest.approx(1.5)
    assert busy_elsewhere(before, after, 1.0, 1.0, cpus={0, 1}) == pytest.approx(0.5)  # we were one of them
    assert busy_elsewhere(before, after, 1.0, 3.0, cpus={0, 1}) == 0.0  # clock skew never goes negative


@given(usable=st.integers(1, 256), busy=st.floats(0, 512, allow_nan=False))
def test_free_cores_stay_between_one_and_the_usable_and_fall_as_the_load_rises(usable, busy):
    free = free_of(usable, busy)
    assert 1 <= free <= usable
    assert free_of(usable, busy + 1) <= free
    assert free_of(usable, 0.49) == usable and free_of(usable, 0.5) == max(1, usable - 1)


def test_a_busy_neighbour_takes_a_core():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip('needs two usable cores')
    neighbour = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
    try:
        os.sched_setaffinity(neighbour.pid, {cpus[0]})
        time.sleep(0.3)  # it is running
        free_cores.mark()
        # more load from elsewhere can only lower the count, so this holds on a shared machine too
        assert free_cores.free_cores(len(cpus)) <= len(cpus) - 1
    finally:
        neighbour.kill()
        neighbour.wait()


def test_without_proc_stat_every_usable_core_is_free(monkeypatch):
    monkeypatch.setattr(free_cores, 'STAT', '/nonexistent/stat')
    free_cores.mark()
    assert free_cores.free_cores(3) == 3


def test_a_short_window_is_extended_and_a_stale_one_restarted(monkeypatch):
    free_cores.mark()
    started = time.monotonic()
    free_cores.free_cores(1)
    assert time.monotonic() - started >= free_cores.MIN_WINDOW * 0.9
    monkeypatch.setattr(free_cores, '_mark', (time.monotonic() - 10 * free_cores.MAX_WINDOW, {}, 0.0))
    started = time.monotonic()
    free_cores.free_cores(1)  # a window hours old says nothing of now: counted afresh
    assert time.monotonic() - started >= free_cores.MIN_WINDOW * 0.9
