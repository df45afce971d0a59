"""The package's parts, and what each one declares to pyiqa and to the ``pyiqa-uniqa`` command.

Every part (a model family or a shared folder) declares, in its torch-free ``__init__.py``:

- ``METRICS``: metric name -> pyiqa metric config (``nr_metric``/``fr_metric`` below);
- ``REGISTRY``: pyiqa registry group (archs, models, losses, datasets, metrics) -> {name: 'module:attr'};

``configs.py`` and ``plugin.py`` merge these, so a new family touches only its own folder and one line
here; its commands are one module each in ``pyiqa_uniqa/apps/`` and one line in ``apps.COMMANDS``.
Everything in this module and in the parts' ``__init__`` files stays importable without torch: the
metric names are read by the start-up hook whenever pyiqa is imported.
"""
import importlib

PARTS = ('training', 'data', 'uniqa', 'uniqa_pretrain', 'attiqa', 'clip_agiqa', 'depictqa', 'testing')


def nr_metric(arch, lower_better=False, score_range='0, 1', **arch_opts):
    """A pyiqa no-reference metric config for the arch registered as ``arch``."""
    return {
        'metric_opts': {'type': arch, **arch_opts},
        'metric_mode': 'NR',
        'lower_better': lower_better,
        'score_range': score_range,
    }


def fr_metric(arch, lower_better=False, score_range='0, 1', **arch_opts):
    """A pyiqa full-reference metric config (the arch takes the distorted then the reference image)."""
    return {**nr_metric(arch, lower_better, score_range, **arch_opts), 'metric_mode': 'FR'}


def declared(attribute):
    """Every part's ``attribute`` merged into one dict; a name declared twice is an error."""
    merged = {}
    for part in PARTS:
        for name, value in getattr(importlib.import_module(f'pyiqa_uniqa.{part}'), attribute, {}).items():
            if name in merged:
                raise ValueError(f'pyiqa_uniqa.{part} declares {attribute} {name!r} again.')
            merged[name] = value
    return merged


def declared_registry():
    """group -> {name: 'module:attr'} over every part's ``REGISTRY``."""
    merged = {}
    for part in PARTS:
        for group, entries in getattr(importlib.import_module(f'pyiqa_uniqa.{part}'), 'REGISTRY', {}).items():
            table = merged.setdefault(group, {})
            for name, target in entries.items():
                if name in table:
                    raise ValueError(f'pyiqa_uniqa.{part} registers {group} {name!r} again.')
                table[name] = target
    return merged
