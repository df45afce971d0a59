"""Plots of an eval run (matplotlib, Agg backend: no display needed).

- ``scatter_<metric>__<dataset>.png``: each image's predicted score against its MOS, with the
  4-parameter logistic curve that PLCC and RMSE are computed through (fitted on all scored rows).
- ``bars_<dataset>.png``: SRCC and PLCC per metric (error bars: std over splits), with the paper's
  numbers as markers where known.
"""
import math

import numpy as np

from pyiqa_uniqa.apps.bench.eval.correlations import align_signs, fit_logistic_4
from pyiqa_uniqa.apps.bench.eval.dataset_scoring import safe_file_stem
from pyiqa_uniqa.apps.metrics.failures import OK


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def scatter_plot(result, path):
    plt = _pyplot()
    metric_lower_better, mos_lower_better = result.metric_lower_better, result.mos_lower_better
    fig, ax = plt.subplots(figsize=(4.5, 4), dpi=110)
    ax.scatter(result.pred, result.mos, s=10, alpha=0.6, edgecolors='none')
    if len(result.pred) >= 4 and np.std(result.pred) > 0:
        # The curve is fitted on sign-aligned values and drawn back on the raw axes.
        curve = fit_logistic_4(*align_signs(result.pred, result.mos, metric_lower_better, mos_lower_better))
        xs = np.linspace(result.pred.min(), result.pred.max(), 200)
        ys = curve(-xs if metric_lower_better else xs)
        ax.plot(xs, -ys if mos_lower_better else ys, color='C3', lw=1.5, label='4-parameter logistic fit')
        ax.legend(loc='best', fontsize=8)
    summary = result.summary
    ax.set_title(f'{result.metric} on {result.dataset}\nSRCC {summary["srcc"].mean:.3f}, '
                 f'PLCC {summary["plcc"].mean:.3f}', fontsize=9)
    ax.set_xlabel('predicted score' + (' (lower is better)' if metric_lower_better else ''))
    ax.set_ylabel('MOS' + (' (lower is better)' if mos_lower_better else ''))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def bar_chart(results, dataset, path):
    plt = _pyplot()
    rows = [r for r in results if r.dataset == dataset and r.status == OK]
    if not rows:
        return False
    x = np.arange(len(rows))
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(4, 1.1 * len(rows) + 2), 3.6), dpi=110)
    for offset, name, colour in ((-width / 2, 'srcc', 'C0'), (width / 2, 'plcc', 'C1')):
        means = [r.summary[name].mean for r in rows]
        stds = [r.summary[name].std if r.summary[name].count > 1 else 0 for r in rows]
        ax.bar(x + offset, np.nan_to_num(means), width, yerr=stds, capsize=3, color=colour, label=name.upper())
        papers = [getattr(r.reference, name, math.nan) if r.reference else math.nan for r in rows]
        if any(not math.isnan(p) for p in papers):
            ax.scatter(x + offset, papers, marker='_', s=300, color='k', zorder=3,
                       label=f'paper {name.upper()}')
    ax.set_xticks(x)
    ax.set_xticklabels([r.metric for r in rows], rotation=30, ha='right', fontsize=8)
    ax.axhline(0, color='grey', lw=0.5)
    ax.set_ylim(min(0, *(r.summary['srcc'].mean for r in rows if not math.isnan(r.summary['srcc'].mean))) - 0.05, 1.05)
    ax.set_title(dataset)
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write_plots(results, out_dir):
    plot_dir = out_dir / 'plots'
    plot_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for r in results:
        if r.status == OK and r.pred is not None and len(r.pred):
            path = plot_dir / f'scatter_{safe_file_stem(r.metric)}__{safe_file_stem(r.dataset)}.png'
            scatter_plot(r, path)
            written.append(path)
    for dataset in dict.fromkeys(r.dataset for r in results):
        path = plot_dir / f'bars_{safe_file_stem(dataset)}.png'
        if bar_chart(results, dataset, path):
            written.append(path)
    return written
