"""What the package offers: its metric names, and the weight files each one needs (timm-style listing).

``list_metrics`` reads the families' torch-free declarations only. ``list_pretrained`` asks each
metric's network class which files its options need (the arch's ``sources_for(**metric_opts)``,
else its ``weight_sources``), so it imports the families' modules (torch, open_clip, ...).
"""
import importlib
from fnmatch import fnmatchcase

from pyiqa_uniqa.configs import METRIC_CONFIGS
from pyiqa_uniqa.errors import UnknownNameError
from pyiqa_uniqa.parts import declared_registry


def list_metrics(pattern='*'):
    """The sorted metric names this package adds to pyiqa that match ``pattern`` (``fnmatch``: ``'uniqa-*'``)."""
    return sorted(name for name in METRIC_CONFIGS if fnmatchcase(name, pattern))


def list_pretrained(pattern='*'):
    """metric name -> {keyword: ``WeightSource``} for the metrics matching ``pattern``.

    Each ``WeightSource`` says what the file is (``title``), the keyword and flag that take a local
    copy, its environment variable, where it downloads from (``url``) or where to get it by hand
    (``how_to_get()``), and how to train one. A metric with no entries needs no file.
    """
    return {name: weight_sources(name) for name in list_metrics(pattern)}


def weight_sources(metric):
    """{keyword: ``WeightSource``} of the files ``metric`` (one of ``list_metrics()``) loads."""
    if metric not in METRIC_CONFIGS:
        raise UnknownNameError(f'{metric!r} is not a metric of pyiqa_uniqa; its metrics: {", ".join(list_metrics())}.')
    options = dict(METRIC_CONFIGS[metric]['metric_opts'])
    arch = _arch_class(options.pop('type'))
    sources_for = getattr(arch, 'sources_for', None)
    return dict(sources_for(**options)) if sources_for else dict(getattr(arch, 'weight_sources', {}))


def _arch_class(name):
    module, _, attribute = declared_registry()['archs'][name].partition(':')
    return getattr(importlib.import_module(module), attribute)
