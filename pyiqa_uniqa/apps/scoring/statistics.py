"""Summaries with intervals for ``compare`` and ``rank``: bootstrap confidence intervals, ranks with
ties, and win rates from A/B verdicts.

Intervals are percentile bootstrap intervals (``resamples`` draws with replacement, a seeded numpy
generator, so the same data and seed give the same interval). Paired data (the same items scored
by two methods) are resampled as pairs, which removes the between-item spread from a difference.
"""
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_LEVEL = 0.95


@dataclass
class Interval:
    estimate: float
    low: float
    high: float

    def format(self, digits=4):
        return f'{self.estimate:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]'

    @property
    def excludes_zero(self):
        return self.low > 0 or self.high < 0


def _interval(estimate, replicates, level):
    tail = (1 - level) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    return Interval(float(estimate), float(low), float(high))


def bootstrap(values, statistic=np.mean, resamples=DEFAULT_RESAMPLES, level=DEFAULT_LEVEL, seed=0):
    """``Interval`` of ``statistic`` of ``values`` (1-D)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return Interval(float(statistic(values)) if len(values) else float('nan'), float('nan'), float('nan'))
    draws = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    return _interval(statistic(values), statistic(values[draws], axis=1), level)


def mean_difference(first, second, paired, resamples=DEFAULT_RESAMPLES, level=DEFAULT_LEVEL, seed=0):
    """``Interval`` of mean(first) - mean(second): paired rows resampled together, else each sample alone."""
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    estimate = first.mean() - second.mean() if len(first) and len(second) else float('nan')
    if min(len(first), len(second)) < 2:
        return Interval(float(estimate), float('nan'), float('nan'))
    generator = np.random.default_rng(seed)
    if paired:
        differences = first - second
        replicates = differences[generator.integers(0, len(differences), (resamples, len(differences)))].mean(axis=1)
    else:
        replicates = (first[generator.integers(0, len(first), (resamples, len(first)))].mean(axis=1)
                      - second[generator.integers(0, len(second), (resamples, len(second)))].mean(axis=1))
    return _interval(estimate, replicates, level)


def ranks(scores, lower_better=False):
    """1 = best; tied scores share the mean of their ranks (NaN scores are not ranked)."""
    from scipy.stats import rankdata

    scores = np.asarray(scores, dtype=float)
    out = np.full(len(scores), np.nan)
    valid = ~np.isnan(scores)
    if valid.any():
        out[valid] = rankdata(scores[valid] if lower_better else -scores[valid], method='average')
    return out


def soft_votes(verdict, confidence):
    """DepictQA's confidence-weighted vote for one A/B answer: (vote for A, vote for B).

    The model answers "Image A" or "Image B" with the probability of that token as its confidence;
    the chosen image gets the confidence and the other one the rest (the DepictQA authors' voting
    rule). Without a confidence the vote is hard (1 / 0).
    """
    confidence = 1.0 if confidence is None else float(confidence)
    return (confidence, 1 - confidence) if verdict == 'Image A' else (1 - confidence, confidence)


def win_rates(candidates, verdicts):
    """``{candidate: mean vote}`` from ``[(first, second, verdict, confidence)]`` (``soft_votes``);
    a candidate in no valid comparison gets NaN."""
    totals = {c: 0.0 for c in candidates}
    counts = {c: 0 for c in candidates}
    for first, second, verdict, confidence in verdicts:
        vote_first, vote_second = soft_votes(verdict, confidence)
        totals[first] += vote_first
        totals[second] += vote_second
        counts[first] += 1
        counts[second] += 1
    return {c: totals[c] / counts[c] if counts[c] else float('nan') for c in candidates}
