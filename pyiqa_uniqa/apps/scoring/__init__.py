"""Scoring at scale and the papers' applications: ``score`` (folders, lists, CSVs -> a table; resumable,
sharded, multi-process), ``rank`` (candidates of one scene), ``compare`` (folders of generators or
methods), and the metric-as-loss example (``python -m pyiqa_uniqa.apps.scoring.metric_as_loss``).
The Python API is ``pyiqa_uniqa.score_images`` (defined in ``engine.py``).

This file only declares names (torch-free).
"""
