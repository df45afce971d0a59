"""Agreement between predicted scores and MOS: SRCC, PLCC (fitted and raw), KRCC, RMSE.

Conventions (the usual IQA ones, written down because papers rarely are):
- Signs are aligned before anything is computed: a lower-better metric's scores are negated, and so
  are a lower-better dataset's MOS (e.g. DMOS on LIVE/CSIQ). A positive correlation therefore
  always means "the metric agrees with people", whichever way either side counts.
- PLCC is computed after the VQEG 4-parameter logistic
  ``f(x) = (b1 - b2) / (1 + exp(-(x - b3) / b4)) + b2`` maps predictions onto the MOS scale; the
  curve is kept increasing, so a metric that disagrees with people keeps a negative PLCC (its raw
  one) instead of being flipped by a decreasing fit. ``plcc_raw`` is Pearson on the unmapped scores.
- RMSE is measured on the dataset's own MOS scale (the units of its meta-info file, or [0, 1] when
  the dataset options ask for ``mos_normalize``), between the logistic-mapped predictions and MOS.
  Raw predictions live on each metric's own scale, so an unmapped RMSE would not be comparable.
"""
import math
import warnings
from dataclasses import dataclass

import numpy as np

CORRELATION_NAMES = ('srcc', 'plcc', 'plcc_raw', 'krcc', 'rmse')


def logistic_4(x, b1, b2, b3, b4):
    with np.errstate(over='ignore'):  # far-out points saturate: exp -> inf -> the asymptote
        return (b1 - b2) / (1.0 + np.exp(-(x - b3) / b4)) + b2


def fit_logistic_4(pred, mos):
    """Fit the 4-parameter logistic from ``pred`` to ``mos``; return it as a function of scores.

    Predictions are standardised first (the family is closed under affine maps of x, so the fit is
    the same function) because raw metric scales such as PSNR in dB or LPIPS in 1e-3 make the
    optimiser's start point badly conditioned. Start: the VQEG one (max/min of MOS, centre of the
    scores, a quarter of their spread).

    The curve must be increasing (``b1 > b2``, ``b4 > 0``): scores are sign-aligned first, so a
    decreasing fit could only turn a metric that disagrees with people into a positive PLCC. When
    the optimiser fails or finds no increasing curve, the best non-decreasing affine map is used
    (what a logistic degenerates to on a narrow score range; a constant for a disagreeing metric).
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    pred = np.asarray(pred, dtype=np.float64)
    mos = np.asarray(mos, dtype=np.float64)
    centre, spread = pred.mean(), pred.std()
    if spread == 0:
        return lambda x: np.full(np.shape(x), mos.mean())

    def standardise(x):
        return (np.asarray(x, dtype=np.float64) - centre) / spread
    z = standardise(pred)
    low, high = mos.min(), mos.max()
    span = max(high - low, 1e-12)
    start = [high, low, 0.0, 0.25]
    bounds = ([low - span, low - 2 * span, z.min() - 1, 1e-3], [high + 2 * span, high + span, z.max() + 1, 1e3])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', OptimizeWarning)
            params, _ = curve_fit(logistic_4, z, mos, p0=start, bounds=bounds, maxfev=20000)
        mapped = logistic_4(z, *params)
        if params[0] > params[1] and np.all(np.isfinite(mapped)) and np.ptp(mapped) > 1e-9 * span:
            return lambda x: logistic_4(standardise(x), *params)
    except (RuntimeError, ValueError):
        pass
    slope = max(0.0, float(np.polyfit(z, mos, 1)[0]))
    return lambda x: mos.mean() + slope * standardise(x)


def align_signs(pred, mos, metric_lower_better=False, dataset_lower_better=False):
    """Return ``(pred, mos)`` as float arrays where larger always means better quality."""
    pred = np.asarray(pred, dtype=np.float64)
    mos = np.asarray(mos, dtype=np.float64)
    return (-pred if metric_lower_better else pred), (-mos if dataset_lower_better else mos)


def correlations(pred, mos):
    """All correlation figures for sign-aligned ``pred`` and ``mos`` (see module doc)."""
    from scipy import stats

    pred = np.asarray(pred, dtype=np.float64)
    mos = np.asarray(mos, dtype=np.float64)
    if pred.shape != mos.shape or pred.ndim != 1:
        raise ValueError(f'pred and mos must be 1-D and equal length, got {pred.shape} and {mos.shape}')
    if len(pred) < 3:
        raise ValueError(f'need at least 3 scored images to correlate, got {len(pred)}')
    if not np.all(np.isfinite(pred)):
        raise ValueError(f'{int((~np.isfinite(pred)).sum())} predicted scores are NaN or infinite')
    if pred.std() == 0:
        nan = float('nan')  # a constant predictor has no defined correlation
        return {'srcc': nan, 'plcc': nan, 'plcc_raw': nan, 'krcc': nan,
                'rmse': float(np.sqrt(np.mean((mos - mos.mean()) ** 2)))}
    mapped = fit_logistic_4(pred, mos)(pred)
    plcc_raw = float(stats.pearsonr(pred, mos)[0])
    return {
        'srcc': float(stats.spearmanr(pred, mos)[0]),
        # a constant map means no increasing curve fits: the metric disagrees, keep its raw sign
        'plcc': float(stats.pearsonr(mapped, mos)[0]) if np.ptp(mapped) > 0 else plcc_raw,
        'plcc_raw': plcc_raw,
        'krcc': float(stats.kendalltau(pred, mos)[0]),
        'rmse': float(np.sqrt(np.mean((mapped - mos) ** 2))),
    }


@dataclass
class Summary:
    """Mean and sample standard deviation of one figure over splits (std is 0 for one split)."""
    mean: float
    std: float
    count: int

    def format(self, digits=4):
        if math.isnan(self.mean):
            return 'nan'
        text = f'{self.mean:.{digits}f}'
        return text if self.count < 2 else f'{text} ± {self.std:.{digits}f}'


def summarise(per_split, names=CORRELATION_NAMES):
    """``[{figure: value}, ...]`` over splits -> ``{figure: Summary}`` for each of ``names`` (NaN splits are skipped)."""
    summary = {}
    for name in names:
        values = np.array([s[name] for s in per_split if not math.isnan(s[name])], dtype=np.float64)
        if len(values) == 0:
            summary[name] = Summary(float('nan'), float('nan'), 0)
        else:
            std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            summary[name] = Summary(float(values.mean()), std, len(values))
    return summary
