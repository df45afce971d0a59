"""Process memory (RSS) now and at its peak, with a resettable peak, without psutil.

Linux keeps the peak RSS in ``/proc/self/status`` (``VmHWM``) and resets it to the current RSS
when ``5`` is written to ``/proc/self/clear_refs``, so each metric gets its own peak. Elsewhere
``resource.getrusage`` gives a peak that cannot be reset (the report says so); GPU memory comes from
``torch.cuda.max_memory_allocated``.

Memory a previous metric freed stays in the C heap (glibc keeps it for reuse), so the next metric
would fill it without the RSS growing; ``release_freed_memory`` hands it back to the system first.
"""
import ctypes
import ctypes.util
import gc
import resource
import sys
from pathlib import Path

_STATUS = Path('/proc/self/status')
_CLEAR_REFS = Path('/proc/self/clear_refs')


def _status_kib(field):
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ':'):
            return int(line.split()[1])
    raise KeyError(field)


def rss_mib():
    """Current resident set size in MiB (peak-so-far where /proc is unavailable)."""
    if _STATUS.exists():
        return _status_kib('VmRSS') / 1024
    return peak_rss_mib()


def peak_rss_mib():
    if _STATUS.exists():
        return _status_kib('VmHWM') / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == 'darwin' else peak / 1024  # bytes on macOS, KiB else


def release_freed_memory():
    """Collect garbage and return freed heap pages to the system (glibc ``malloc_trim``)."""
    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: figures may be low for metrics measured after others


def reset_peak_rss():
    """Make the peak equal the current RSS; False when the platform cannot (peak is then lifetime)."""
    try:
        _CLEAR_REFS.write_text('5')
        return True
    except OSError:
        return False
