"""What every property asserts about one case: a finite score or an error of the family naming the
input, within a time and memory bound, and nothing left behind.

``check_case(name, call, names, folder)``: runs ``call()``; a result must be finite (a number, a
tensor, or a value ``finite`` accepts); an exception must be a ``UserError`` whose message holds one
of ``names`` (how the input may be named); it must end within ``SECONDS``; the process' peak
memory must stay within ``MEMORY_BYTES`` of what it was when the property's test started (``start``,
called by the folder's conftest before each test: Linux's peak-RSS mark is reset to the current size
there, so earlier tests of a whole-suite run do not count; elsewhere the process' peak so far is the
start); ``folder`` (if given) must hold the same files after.
Outcomes are counted per property in ``TALLY`` for the summary.
"""
import collections
import math
import os
import resource
import time

import torch

from pyiqa_uniqa.errors import UserError

SECONDS = float(os.environ.get('PYIQA_UNIQA_PROPERTY_SECONDS', 30))
MEMORY_BYTES = 1536 * 2 ** 20
TALLY = collections.defaultdict(collections.Counter)
_START_PEAK = 0


def _peak_bytes():
    """The process' peak resident size: Linux's resettable VmHWM, else ``ru_maxrss``."""
    try:
        with open('/proc/self/status', encoding='ascii') as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith('VmHWM:'))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def start():
    """Measure memory growth from now: reset the peak mark where Linux allows it."""
    global _START_PEAK
    try:
        with open('/proc/self/clear_refs', 'w', encoding='ascii') as clear:
            clear.write('5')  # 5: reset the peak RSS to the current RSS
    except OSError:
        pass
    _START_PEAK = _peak_bytes()


def _files(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob('*')) if folder is not None else []


def is_finite(value):
    if torch.is_tensor(value):
        return value.is_floating_point() and bool(torch.isfinite(value).all())
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    return value is not None


def check_case(name, call, names, folder=None, finite=is_finite):
    before = _files(folder)
    started = time.perf_counter()
    try:
        result = call()
    except UserError as err:
        message = str(err)
        assert any(n in message for n in names), f'the error does not name the input ({names}): {message}'
        TALLY[name][f'error {type(err).__name__}'] += 1
    else:
        assert finite(result), f'not a finite result: {result!r}'
        TALLY[name]['result'] += 1
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS, f'took {elapsed:.1f} s (bound {SECONDS:g} s)'
    grown = _peak_bytes() - _START_PEAK
    assert grown < MEMORY_BYTES, f'peak memory grew by {grown / 2 ** 20:.0f} MiB (bound {MEMORY_BYTES / 2 ** 20:.0f})'
    assert _files(folder) == before, 'files were left behind'


def cases(ci):
    """``max_examples`` for a property: ``ci`` in the CI profile (cheap properties run more), the long
    profile's count otherwise."""
    from hypothesis import settings
    return ci if os.environ.get('PYIQA_UNIQA_PROPERTIES', 'ci') == 'ci' else settings.default.max_examples
