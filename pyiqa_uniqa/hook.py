"""Make pyiqa see our metric names without anyone importing this package.

The ``pyiqa_uniqa.pth`` file in site-packages imports this package at interpreter start-up
(``pyiqa_uniqa.start`` does the same on Python >= 3.15, PEP 829). ``install`` then puts a
finder on ``sys.meta_path`` that waits for ``pyiqa.default_model_configs`` to be imported and
merges ``configs.METRIC_CONFIGS`` into its ``DEFAULT_CONFIGS`` right after the module runs.
Importing pyiqa eagerly instead would add seconds (torch) to every Python start.

Stdlib only. Any failure becomes a warning: a broken plugin must never break pyiqa.
"""
import sys
import warnings

TARGET = 'pyiqa.default_model_configs'


def merge_metric_configs(module):
    """Add our configs to pyiqa's dict in place (other modules hold the same object).

    ``setdefault``: a name pyiqa (or another plugin) already defines wins.
    """
    from pyiqa_uniqa.configs import METRIC_CONFIGS
    table = module.DEFAULT_CONFIGS
    for name, cfg in METRIC_CONFIGS.items():
        table.setdefault(name, cfg)


def _merge_quietly(module):
    try:
        merge_metric_configs(module)
    except Exception as err:  # noqa: BLE001 - never break pyiqa's import
        warnings.warn(f'pyiqa_uniqa could not register its metrics: {err!r}', RuntimeWarning)


class _MergeAfterImport:
    """A meta-path finder that finds nothing itself; it wraps the real loader of pyiqa's config module.

    (No ``importlib.abc`` base class: importing it would cost every interpreter start ~20 ms.)
    """

    def find_spec(self, fullname, path, target=None):
        if fullname != TARGET:
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
            _merge_quietly(module)

        spec.loader.exec_module = exec_module
        return spec


def install():
    """Idempotent. Merges now if pyiqa's configs are already imported."""
    if TARGET in sys.modules:
        _merge_quietly(sys.modules[TARGET])
    if not any(isinstance(f, _MergeAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _MergeAfterImport())
