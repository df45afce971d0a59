"""Import torchvision without importing ``torch._dynamo``: a second less for every command that starts.

pyiqa imports torchvision (``pyiqa.utils.img_util``), and ``import torchvision`` reaches
``torchvision.ops.roi_align``, which imports ``torch._dynamo.utils`` at its top for one function,
``is_compile_supported``, that it calls only when ``roi_align`` runs. Importing ``torch._dynamo`` costs
about 1.1 s on the 2-core machine of docs/speed.md: a quarter of the start-up of ``score`` and a third of
what pyiqa adds to torch. Nothing that scores images needs it.

``install()`` (the CLI calls it first) puts a finder ahead of Python's that wraps the first import of
torchvision, wherever it happens: while torchvision's modules run, ``torch._dynamo.utils`` is a stand-in
module whose ``is_compile_supported`` imports the real one when first called (so ``roi_align`` behaves
exactly as before) and whose every other attribute imports the real module at once (so another import
of it only loses the saving). When torchvision is imported the stand-in is gone; ``torch.compile`` and
any later ``import torch._dynamo`` load the real thing. Nothing is done where torchvision or
``torch._dynamo`` is already imported.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import types

DYNAMO_UTILS = 'torch._dynamo.utils'


def is_compile_supported(*args, **kwargs):
    """torch._dynamo.utils.is_compile_supported, imported on the first call."""
    from torch._dynamo.utils import is_compile_supported as real

    return real(*args, **kwargs)


class _StandIn(types.ModuleType):
    def __getattr__(self, name):
        if name == 'is_compile_supported':
            return is_compile_supported
        if name.startswith('__'):  # the import system asks for __path__ etc.: a plain module has none
            raise AttributeError(name)
        if sys.modules.get(DYNAMO_UTILS) is self:
            del sys.modules[DYNAMO_UTILS]
        return getattr(importlib.import_module(DYNAMO_UTILS), name)


class _WrappedLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # get_resource_reader, is_package, ...: torchvision's own loader answers
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        stand_in = _StandIn(DYNAMO_UTILS)
        placed = 'torch._dynamo' not in sys.modules and DYNAMO_UTILS not in sys.modules
        if placed:
            sys.modules[DYNAMO_UTILS] = stand_in
        try:
            self.loader.exec_module(module)
        finally:
            if placed and sys.modules.get(DYNAMO_UTILS) is stand_in:
                del sys.modules[DYNAMO_UTILS]


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != 'torchvision':
            return None
        uninstall()  # once: the real finders find torchvision, this only wraps its loader
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _WrappedLoader(spec.loader)
        return spec


_FINDER = _Finder()


def install():
    """Wrap the first import of torchvision (see the module's doc); a no-op once it is imported."""
    if 'torchvision' not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall():
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
