"""Scoring at scale and the papers' applications: ``score`` (folders, lists, CSVs -> a table; resumable,
sharded, multi-process), ``rank`` (candidates of one scene), ``compare`` (folders of generators or
methods), and the metric-as-loss example (``python -m pyiqa_uniqa.scoring.metric_as_loss``).
The Python API is ``pyiqa_uniqa.scoring.engine.score_images``.

This file only declares names (torch-free).
"""

COMMANDS = {
    'score': ('pyiqa_uniqa.scoring.command', 'score a folder, glob, list or CSV of images with any metrics, to a table'),
    'rank': ('pyiqa_uniqa.scoring.rank', 'rank candidates of one scene (A/B comparisons or scores), and the models behind them'),
    'compare': ('pyiqa_uniqa.scoring.compare', 'compare folders of generators or methods: means, intervals, differences'),
}
