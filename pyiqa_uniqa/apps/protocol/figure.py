"""``spread.png``: the per-split spread of SRCC, one panel per (recipe, setting, dataset trained on).

In each panel every tested set has one column of dots per selection rule (one dot per split), a
bar at their median, and the paper's SRCC as a black dash where the reference table has it.
matplotlib with the Agg backend (no display needed).
"""
import math

import numpy as np

from pyiqa_uniqa.apps.protocol.table import RULE_LABELS
from pyiqa_uniqa.files import atomic_write

RULE_STYLE = {'honest': ('C0', 'o'), 'test': ('C3', 's')}


def write_spread_figure(rows, path):
    """Draw ``rows`` (``table.Row``) into ``path``; False when no unit has finished."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys((r.recipe, r.setting, r.trained_on) for r in rows))
    if not any(r.per_split for r in rows):
        return False
    fig, axes = plt.subplots(1, len(groups), sharey=True, figsize=(3.2 + 2.2 * max(len(groups) - 1, 0) + 0.6 * len(rows) / len(groups),
                                                     3.6), dpi=110, squeeze=False)
    rules = list(dict.fromkeys(r.rule for r in rows))
    width = 0.6 / len(rules)
    for ax, group in zip(axes[0], groups):
        tested = list(dict.fromkeys(r.tested_label for r in rows if (r.recipe, r.setting, r.trained_on) == group))
        for row in (r for r in rows if (r.recipe, r.setting, r.trained_on) == group):
            x = tested.index(row.tested_label) + (rules.index(row.rule) - (len(rules) - 1) / 2) * width
            colour, marker = RULE_STYLE.get(row.rule, ('C2', '^'))
            values = [s['srcc'] for s in row.per_split if not math.isnan(s['srcc'])]
            jitter = np.linspace(-width / 4, width / 4, len(values)) if len(values) > 1 else [0.0] * len(values)
            ax.scatter(x + np.asarray(jitter), values, color=colour, marker=marker, s=18, alpha=0.8,
                       label=RULE_LABELS.get(row.rule, row.rule))
            if values:
                ax.hlines(np.median(values), x - width / 2.5, x + width / 2.5, color=colour, lw=2)
            if row.reference is not None and not math.isnan(row.reference.srcc):
                ax.scatter([x], [row.reference.srcc], marker='_', s=250, color='k', zorder=3, label='paper')
        ax.set_xticks(range(len(tested)))
        ax.set_xticklabels(tested, rotation=20, ha='right', fontsize=8)
        ax.set_title(' / '.join(group), fontsize=9)
        ax.axhline(0, color='grey', lw=0.5)
        ax.set_xlim(-0.6, len(tested) - 0.4)
    axes[0][0].set_ylabel('SRCC per split (bar: median)')
    legend = {}
    for ax in axes[0]:
        legend.update((label, handle) for handle, label in zip(*ax.get_legend_handles_labels()))
    fig.legend(legend.values(), legend.keys(), fontsize=7, loc='lower center', ncol=len(legend))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    with atomic_write(path, 'wb') as f:
        fig.savefig(f, format='png')
    plt.close(fig)
    return True
