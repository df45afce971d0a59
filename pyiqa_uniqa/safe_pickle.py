"""Read pickles that other people wrote without ever running their code.

A pickle names the functions and classes that rebuild its objects ("globals"); an ordinary
unpickler imports and calls them, which is how a ``__reduce__`` payload runs. Both readers here
decide every global themselves:

- ``load_plain_pickle(path)``: plain data only (dict, list, tuple, set, int, float, str, bytes,
  bool, None, numpy arrays, scalars and dtypes): what pyiqa's split files and our caches hold.
  Any other global is refused, with the file and the global named, before it is imported.
- ``load_tensors_ignoring_objects(path)``: a ``torch.save`` file that holds tensors *and* pickled
  objects, such as a Dassl trainer checkpoint (``{'state_dict', 'epoch', 'optimizer', 'scheduler',
  'val_result'}``, where the warm-up scheduler's state holds its successor scheduler and that one's
  optimizer as objects). Tensors and plain containers come back; every other global becomes an
  ``IgnoredObject`` placeholder class, which is never imported and whose "construction" stores nothing.
"""
import _compat_pickle
import io
import pickle
import types
import zipfile
from pathlib import Path

from pyiqa_uniqa.errors import UserError

# (module, name) -> how to get it; numpy's module moved from numpy.core to numpy._core in 2.0
_NUMPY_GLOBALS = {
    (core, name) for core in ('numpy.core.multiarray', 'numpy._core.multiarray') for name in ('_reconstruct', 'scalar')
} | {(core, '_frombuffer') for core in ('numpy.core.numeric', 'numpy._core.numeric')} | {
    ('numpy', 'ndarray'), ('numpy', 'dtype')}
# the plain types themselves: calling one builds plain data (an optimizer's defaultdict(dict) names dict)
_BUILTIN_GLOBALS = {('builtins', name) for name in (
    'dict', 'list', 'tuple', 'set', 'frozenset', 'int', 'float', 'complex', 'str', 'bytes', 'bytearray', 'bool')} | {
    ('_codecs', 'encode'),  # how protocol 2 stores bytes
    ('collections', 'OrderedDict'),
}
PLAIN_GLOBALS = frozenset(_NUMPY_GLOBALS | _BUILTIN_GLOBALS)
PLAIN_DATA = 'lists, dicts, tuples, sets, numbers, strings, bytes and numpy arrays'


class UnsafePickleError(UserError, pickle.UnpicklingError):
    """The pickle asks for a global that is not plain data; nothing of it was run."""


class UnreadablePickleError(UserError, pickle.UnpicklingError):
    """Empty, truncated, or not a pickle at all."""


def _python3_name(module, name):
    """The Python 3 name of a global (protocols < 3 write Python 2 names such as ``__builtin__.set``)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[module, name]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class _PlainDataUnpickler(pickle.Unpickler):
    path = ''

    def find_class(self, module, name):
        module, name = _python3_name(module, name)
        if (module, name) in PLAIN_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f'{self.path} asks for {module}.{name}, which is not plain data ({PLAIN_DATA}); it was not '
            'loaded, because unpickling it could run code.')


def load_plain_pickle(path):
    """The plain data in the pickle at ``path`` (or in an open binary file); refuses anything else.

    An open file makes this a drop-in ``pickle.load`` for code that reads split files itself.
    """
    if hasattr(path, 'read'):
        data, path = path.read(), getattr(path, 'name', 'the pickle')
    else:
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UnreadablePickleError(f'{path}: no such file.') from None
        except IsADirectoryError:
            raise UnreadablePickleError(f'{path} is a folder, not a pickle file.') from None
    if not data:
        raise UnreadablePickleError(f'{path} is empty.')
    unpickler = _PlainDataUnpickler(io.BytesIO(data))
    unpickler.path = path
    try:
        return unpickler.load()
    except UnsafePickleError:
        raise
    except Exception as err:  # noqa: BLE001 - damaged bytes fail in many ways inside the unpickler
        raise UnreadablePickleError(
            f'{path} is not a readable pickle ({err.__class__.__name__}: {err}).') from None


class IgnoredObject:
    """Stands in for a pickled object whose class is not imported: it keeps no state and does nothing.

    The pickle's calls on it (construction, ``__setstate__``, appends, item sets) are absorbed.
    """
    global_name = ''

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def append(self, item):
        pass

    def extend(self, items):
        pass

    def add(self, item):
        pass

    def __setitem__(self, key, value):
        pass

    def __repr__(self):
        return f'<ignored {self.global_name}>'


def _tensor_globals():
    """What ``torch.load(weights_only=True)`` trusts: tensor rebuild functions, dtypes, devices, Size."""
    from torch._weights_only_unpickler import _get_allowed_globals
    return _get_allowed_globals()


class _TensorsIgnoringObjectsUnpickler(pickle.Unpickler):
    """torch's loader subclasses this (it routes storages itself); every other global comes here."""

    def find_class(self, module, name):
        module, name = _python3_name(module, name)
        allowed = _tensor_globals().get(f'{module}.{name}')
        if allowed is not None:
            return allowed
        if (module, name) in PLAIN_GLOBALS:
            return super().find_class(module, name)
        return type(name, (IgnoredObject,), {'global_name': f'{module}.{name}', '__module__': __name__})


def _load(file, **kwargs):
    return _TensorsIgnoringObjectsUnpickler(file, **kwargs).load()


# what torch.load calls on its pickle_module: Unpickler for the data, load for legacy headers
_TENSORS_IGNORING_OBJECTS = types.SimpleNamespace(__name__=__name__, Unpickler=_TensorsIgnoringObjectsUnpickler,
                                                  load=_load)


def load_tensors_ignoring_objects(path):
    """The tensors and plain containers of a ``torch.save`` file; other objects become ``IgnoredObject``."""
    import torch

    from pyiqa_uniqa.weights import CorruptWeightsError, UnsafeWeightsError, checked_weight_file
    path = checked_weight_file(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any(name.endswith('/constants.pkl') for name in archive.namelist()):
                # torch.load hands TorchScript archives to torch.jit.load, which builds their code
                raise UnsafeWeightsError(f'{path} is a TorchScript archive, not a checkpoint; it was not loaded.')
    try:
        return torch.load(path, map_location='cpu', weights_only=False, pickle_module=_TENSORS_IGNORING_OBJECTS)
    except Exception as err:  # noqa: BLE001 - a damaged file fails in many ways inside torch
        raise CorruptWeightsError(f'{path} is truncated or not a PyTorch checkpoint.') from err
