"""Validation metric for pre-training: SRCC per attribute column, averaged.

pyiqa's ``calculate_srcc`` expects one score per image; during pre-training the model predicts
five, and mixing attributes in one SRCC would be meaningless.
"""
import warnings

import numpy as np
from scipy.stats import spearmanr


def calculate_attribute_srcc(x, y, **kwargs):
    """x, y: [N, K] predictions and pseudo-labels -> mean over K of the SRCC (nan-free)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim == 1:
        x, y = x[:, None], y[:, None]
    values = []
    for k in range(x.shape[1]):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # constant column (tiny batch): count as 0
            rho = spearmanr(x[:, k], y[:, k])[0]
        values.append(0.0 if np.isnan(rho) else rho)
    return float(np.mean(values))
