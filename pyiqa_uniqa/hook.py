"""Make pyiqa see our metric names without anyone importing this package.

The ``pyiqa_uniqa.pth`` file in site-packages imports this package at interpreter start-up
(``pyiqa_uniqa.start`` does the same on Python >= 3.15, PEP 829). ``install`` then puts a
finder on ``sys.meta_path`` that waits for two of pyiqa's modules and adjusts each right after
it runs:

- ``pyiqa.default_model_configs``: ``configs.METRIC_CONFIGS`` are merged into ``DEFAULT_CONFIGS``;
- ``pyiqa.models.inference_model``: reading a path (``create_metric(...)(path)``, the ``pyiqa``
  CLI) fails clearly on damaged or absurdly large files (``data/pyiqa_reading.py``).

Importing pyiqa eagerly instead would add seconds (torch) to every Python start.

Stdlib only. Any failure becomes a warning: a broken plugin must never break pyiqa.
"""
import sys
import warnings

TARGET = 'pyiqa.default_model_configs'
INFERENCE_MODEL = 'pyiqa.models.inference_model'


def merge_metric_configs(module):
    """Add our configs to pyiqa's dict in place (other modules hold the same object).

    ``setdefault``: a name pyiqa (or another plugin) already defines wins.
    """
    from pyiqa_uniqa.configs import METRIC_CONFIGS
    table = module.DEFAULT_CONFIGS
    for name, cfg in METRIC_CONFIGS.items():
        table.setdefault(name, cfg)


def read_images_strictly(module):
    from pyiqa_uniqa.data.pyiqa_reading import install
    install(module)


# module -> (what to do right after it runs, what the warning says failed)
AFTER_IMPORT = {
    TARGET: (merge_metric_configs, 'register its metrics'),
    INFERENCE_MODEL: (read_images_strictly, "wrap pyiqa's image reading"),
}


def _adjust_quietly(module):
    adjust, what = AFTER_IMPORT[module.__name__]
    try:
        adjust(module)
    except Exception as err:  # noqa: BLE001 - never break pyiqa's import
        warnings.warn(f'pyiqa_uniqa could not {what}: {err!r}', RuntimeWarning)


class _AdjustAfterImport:
    """A meta-path finder that finds nothing itself; it wraps the real loader of pyiqa's modules
    in ``AFTER_IMPORT``.

    (No ``importlib.abc`` base class: importing it would cost every interpreter start ~20 ms.)
    """

    def find_spec(self, fullname, path, target=None):
        if fullname not in AFTER_IMPORT:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        original = spec.loader.exec_module

        def exec_module(module):
            original(module)
            _adjust_quietly(module)

        spec.loader.exec_module = exec_module
        return spec


def install():
    """Idempotent. Adjusts now the modules pyiqa has already imported."""
    for name in AFTER_IMPORT:
        if name in sys.modules:
            _adjust_quietly(sys.modules[name])
    if not any(isinstance(f, _AdjustAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AdjustAfterImport())
