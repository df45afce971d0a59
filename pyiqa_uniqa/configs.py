"""Metric name -> pyiqa metric config, as plain data: the union of every part's ``METRICS``.

pyiqa looks metric names up in ``pyiqa.default_model_configs.DEFAULT_CONFIGS`` before any
registry, so these entries are merged into that dict (see ``hook.py``). This module must stay
importable without torch: it is read whenever pyiqa is imported.

One name per variant: the ``pyiqa`` CLI cannot pass per-metric options. Each family declares its
names in its own ``__init__.py`` (see ``parts.py``).
"""
from pyiqa_uniqa.parts import declared

METRIC_CONFIGS = declared('METRICS')
