"""How many of this process's cores other processes leave free: what ``run_defaults`` sizes threads by.

The cores a process may use (its affinity mask) are not the cores it will get: on a machine where another
job keeps one core busy, a second torch thread waits on a core that is not free, and measured runs were
up to 1.8 times slower than with one thread (docs/speed.md). So the defaults count free cores.

How: Linux's ``/proc/stat`` gives each CPU's busy and idle time. Two snapshots over a window (from
``mark()``, which the CLI calls first thing, to the moment a command chooses its defaults: the seconds of
importing torch and pyiqa, free of charge) give the CPU time spent on this process's CPUs; less this
process's own CPU time over the same window (``os.times``: every thread, and its finished reader
processes), the rest is what other processes used: ``others / window`` cores, each counted as taken from
half a core up. A window shorter than ``MIN_WINDOW`` (a library call right after import) is extended by
sleeping; one older than ``MAX_WINDOW`` (a long-lived process: a notebook) is restarted, so the figure is
about now. Where ``/proc/stat`` does not exist (macOS, Windows) every usable core counts as free.
"""
import os
import time

MIN_WINDOW = 0.2  # seconds: 20 clock ticks per CPU at Linux's 100 Hz
MAX_WINDOW = 30.0
STAT = '/proc/stat'
_mark = None  # (monotonic seconds, {cpu: (total ticks, idle ticks)}, own CPU seconds)


def cpu_ticks(text):
    """``{cpu number: (total ticks, idle ticks)}`` from the text of ``/proc/stat`` (idle includes iowait)."""
    ticks = {}
    for line in text.splitlines():
        name, _, rest = line.partition(' ')
        if name.startswith('cpu') and name[3:].isdigit():
            fields = [int(v) for v in rest.split()]
            ticks[int(name[3:])] = (sum(fields[:8]), fields[3] + fields[4])  # user..steal; idle + iowait
    return ticks


def busy_elsewhere(before, after, seconds, own_seconds, cpus, hertz=100):
    """Cores' worth of CPU time that processes other than this one used on ``cpus`` between two
    ``cpu_ticks`` snapshots ``seconds`` apart, this process having used ``own_seconds`` of CPU meanwhile."""
    busy = sum((after[c][0] - before[c][0]) - (after[c][1] - before[c][1]) for c in cpus if c in before and c in after)
    return max(0.0, busy / hertz - own_seconds) / seconds if seconds > 0 else 0.0


def free_of(usable, busy_cores):
    """Free cores: ``usable`` less every core others keep at least half busy; never below one."""
    return max(1, usable - int(busy_cores + 0.5))


def _snapshot():
    try:
        with open(STAT, encoding='ascii') as stat:
            ticks = cpu_ticks(stat.read())
    except OSError:
        ticks = None
    own = os.times()  # every thread, and reader processes of an earlier loop once reaped (children_*)
    return time.monotonic(), ticks, own.user + own.system + own.children_user + own.children_system


def mark():
    """Start the window over which other processes' CPU use is counted (the CLI calls this first)."""
    global _mark
    _mark = _snapshot()


def free_cores(usable, cpus=None):
    """Of ``usable`` cores (on the CPUs ``cpus``, default this process's affinity), those other
    processes leave free, counted over the window since ``mark()`` (see the module's doc)."""
    global _mark
    if cpus is None:
        cpus = os.sched_getaffinity(0) if hasattr(os, 'sched_getaffinity') else range(os.cpu_count() or 1)
    if _mark is None or time.monotonic() - _mark[0] > MAX_WINDOW:
        mark()
    waited = time.monotonic() - _mark[0]
    if waited < MIN_WINDOW:
        time.sleep(MIN_WINDOW - waited)
    now = _snapshot()
    start, _mark = _mark, now  # the next call counts from here
    if start[1] is None or now[1] is None:
        return usable
    return free_of(usable, busy_elsewhere(start[1], now[1], now[0] - start[0], now[2] - start[2], cpus,
                                          os.sysconf('SC_CLK_TCK')))
