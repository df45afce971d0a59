"""Compare variants fairly on a machine that other jobs share: take turns, then take medians.

Running variant A three times and then B three times lets a change in the machine's load (another job
starting, a cache warming up) decide the comparison. Here the variants take turns, round after round
(A B A B ...), so slow and fast moments fall on every variant alike, and each figure is the median of
its rounds with the spread (lowest, highest) beside it: the median is the figure to quote, the spread
says how far to trust it. ``busy_neighbour`` adds one CPU-bound process for the "under load" condition.
"""
import contextlib
import math
import statistics
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    runs: int

    def __str__(self):
        return format(self)

    def __format__(self, spec):
        spec = spec or '.2f'
        if math.isnan(self.median):
            return '–'
        if self.runs < 2:
            return format(self.median, spec)
        return f'{self.median:{spec}} ({self.low:{spec}}–{self.high:{spec}})'

    @property
    def relative_spread(self):
        """(highest - lowest) / median: 0.1 means the rounds differ by 10% of the median."""
        return (self.high - self.low) / self.median if self.median else math.nan


def spread(values):
    """Median and range of the finite ``values`` (all NaN when there are none)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return Spread(math.nan, math.nan, math.nan, 0)
    return Spread(statistics.median(finite), min(finite), max(finite), len(finite))


def alternate(variants, rounds, measure, announce=None):
    """``measure(variant)`` for every variant, ``rounds`` times, in turns: A B A B ...

    Returns ``{variant: [result of each round]}`` (variants must be hashable). ``announce(round, variant)``
    is called before each measurement (progress lines).
    """
    results = {variant: [] for variant in variants}
    for number in range(rounds):
        for variant in variants:
            if announce:
                announce(number, variant)
            results[variant].append(measure(variant))
    return results


@contextlib.contextmanager
def busy_neighbour(active=True):
    """One other CPU-bound process (a pure-Python busy loop) for as long as the block runs."""
    if not active:
        yield
        return
    process = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
    try:
        yield
    finally:
        process.kill()
        process.wait()
