"""pyiqa-uniqa: vision-language image-quality models (UniQA, ATTIQA, DepictQA-style) for pyiqa.

Importing this package is cheap and torch-free: it only arranges for the metric names in
``configs.py`` to appear in pyiqa's ``DEFAULT_CONFIGS`` (now, or when pyiqa is imported). The
metrics themselves are used through pyiqa: ``pyiqa.create_metric('uniqa')``.

The public API is ``__all__`` (see docs/api.md); each name is imported on first use (PEP 562), so
none of them costs anything until it is used. Other modules are internal: their names may change.
"""
from importlib import import_module as _import_module

from pyiqa_uniqa.hook import install as _install_hook

__version__ = '0.1.0'

# public name -> the module that defines it
_PUBLIC = {
    'list_metrics': 'pyiqa_uniqa.catalog',
    'list_pretrained': 'pyiqa_uniqa.catalog',
    **dict.fromkeys(('UserError', 'InvalidOptionError', 'UnknownNameError', 'InvalidInputError',
                     'MissingFileError'), 'pyiqa_uniqa.errors'),
    **dict.fromkeys(('RANDOM', 'WeightSource', 'WeightsError', 'WeightsNotFoundError', 'UnsafeWeightsError',
                     'CorruptWeightsError', 'CheckpointMismatchError'), 'pyiqa_uniqa.weights'),
}

__all__ = ['__version__', 'score_images', *_PUBLIC]


def __getattr__(name):
    if name == 'score_images':
        # the one application function in the API; tests/test_layout.py lets only this root import apps/
        from pyiqa_uniqa.apps.scoring.engine import score_images
        return score_images
    if name in _PUBLIC:
        return getattr(_import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'pyiqa_uniqa' has no attribute {name!r}")


def __dir__():
    return sorted(set(__all__) | {name for name in globals() if name.startswith('__')})


_install_hook()
