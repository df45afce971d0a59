"""Entry-point targets for pyiqa's five registries.

pyiqa loads every plugin's entry points on its first registry lookup, even for ``psnr``, so these
functions only record import paths (``register_lazy``); the classes are imported when used.
One function per group: pyiqa calls each entry point's target once per group it is listed in.
"""
from pyiqa_uniqa.parts import declared_registry

# group -> {registered name: 'module:attribute'}, as each part declares it (see parts.py)
LAZY_REGISTRATIONS = declared_registry()


def _register(group):
    from pyiqa.utils import registry

    target_registry = {
        'archs': registry.ARCH_REGISTRY,
        'models': registry.MODEL_REGISTRY,
        'losses': registry.LOSS_REGISTRY,
        'datasets': registry.DATASET_REGISTRY,
        'metrics': registry.METRIC_REGISTRY,
    }[group]
    for name, target in LAZY_REGISTRATIONS.get(group, {}).items():
        try:
            target_registry.register_lazy(name, target)
        except AssertionError:
            pass  # the name is taken (pyiqa or another plugin): theirs wins, as with metric configs


def register_archs():
    _register('archs')


def register_models():
    _register('models')


def register_losses():
    _register('losses')


def register_datasets():
    _register('datasets')


def register_metrics():
    _register('metrics')
