"""Correlation figures: logistic fit, sign conventions, degenerate inputs, split summaries."""
import math

import numpy as np
import pytest
from scipy import stats

from pyiqa_uniqa.apps.bench.eval.correlations import (
    align_signs,
    correlations,
    fit_logistic_4,
    logistic_4,
    summarise,
)


def test_logistic_fit_recovers_a_logistic_relation_on_a_raw_db_scale():
    rng = np.random.default_rng(0)
    pred = rng.uniform(20, 45, 200)  # PSNR-like scale: badly conditioned without standardising
    mos = logistic_4((pred - 32) / 3, 90, 10, 0, 1)
    mapped = fit_logistic_4(pred, mos)(pred)
    assert np.max(np.abs(mapped - mos)) < 1e-3
    figures = correlations(pred, mos)
    assert figures['plcc'] == pytest.approx(1.0, abs=1e-6)
    assert figures['plcc_raw'] < 0.99  # the relation is not linear: the fit is what makes PLCC 1
    assert figures['rmse'] < 1e-3


def test_figures_match_scipy_on_noisy_data():
    rng = np.random.default_rng(1)
    pred = rng.normal(size=60)
    mos = 3 + np.tanh(pred) + 0.3 * rng.normal(size=60)
    figures = correlations(pred, mos)
    assert figures['srcc'] == pytest.approx(stats.spearmanr(pred, mos)[0], abs=1e-12)
    assert figures['krcc'] == pytest.approx(stats.kendalltau(pred, mos)[0], abs=1e-12)
    assert figures['plcc_raw'] == pytest.approx(stats.pearsonr(pred, mos)[0], abs=1e-12)
    mapped = fit_logistic_4(pred, mos)(pred)
    assert figures['plcc'] == pytest.approx(stats.pearsonr(mapped, mos)[0], abs=1e-12)
    assert figures['rmse'] == pytest.approx(np.sqrt(np.mean((mapped - mos) ** 2)), abs=1e-12)
    assert figures['plcc'] >= figures['plcc_raw'] - 1e-6  # the fit can only help a monotone relation


def test_signs_are_aligned_for_lower_better_metrics_and_datasets():
    mos = np.arange(10.0)
    distance = 10 - mos  # a lower-better metric that agrees perfectly
    pred, aligned_mos = align_signs(distance, mos, metric_lower_better=True)
    assert correlations(pred, aligned_mos)['srcc'] == pytest.approx(1.0)
    dmos = -mos  # a lower-better dataset (DMOS) scored by a higher-better metric
    pred, aligned_mos = align_signs(mos, dmos, dataset_lower_better=True)
    assert correlations(pred, aligned_mos)['srcc'] == pytest.approx(1.0)


def test_a_disagreeing_metric_keeps_a_negative_plcc():
    # An unconstrained logistic fit could flip a decreasing relation into a positive PLCC.
    mos = np.linspace(0, 1, 30)
    pred = -mos + 0.01 * np.sin(np.arange(30))
    figures = correlations(pred, mos)
    assert figures['plcc'] < -0.9 and figures['srcc'] < -0.9


def test_constant_and_invalid_predictions():
    figures = correlations(np.ones(5), np.arange(5.0))
    assert math.isnan(figures['srcc']) and math.isnan(figures['plcc'])
    with pytest.raises(ValueError, match='NaN'):
        correlations(np.array([1.0, np.nan, 2.0, 3.0]), np.arange(4.0))
    with pytest.raises(ValueError, match='at least 3'):
        correlations(np.array([1.0, 2.0]), np.array([1.0, 2.0]))


def test_summary_is_mean_and_sample_std_over_splits():
    splits = [{'srcc': s, 'plcc': s, 'plcc_raw': s, 'krcc': s, 'rmse': s} for s in (0.7, 0.8, 0.9)]
    summary = summarise(splits)
    assert summary['srcc'].mean == pytest.approx(0.8)
    assert summary['srcc'].std == pytest.approx(0.1)
    assert summary['srcc'].format(2) == '0.80 ± 0.10'
    assert summarise(splits[:1])['srcc'].format(2) == '0.70'
