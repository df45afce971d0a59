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

What a pickle holds it brings along (its size is the file's), but a few allowed constructors build
from a number: ``bytearray(2**31)``, ``bytes(n)`` and numpy's ``_reconstruct`` (whose shape a real
pickle gives as ``(0,)`` before filling it). Those are bounded: a call that
would build more than ``MAX_CONSTRUCTED_BYTES`` (64 MiB) is refused, naming the file.
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
MAX_CONSTRUCTED_BYTES = 2 ** 26
PLAIN_DATA = 'lists, dicts, tuples, sets, numbers, strings, bytes and numpy arrays'


class UnsafePickleError(UserError, pickle.UnpicklingError):
    """The pickle asks for a global that is not plain data; nothing of it was run."""


class UnreadablePickleError(UserError, pickle.UnpicklingError):
    """Empty, truncated, or not a pickle at all."""


def _bounded(constructor, path, size):
    """``constructor``, refusing a call whose ``size(*args, **kwargs)`` (bytes to build) is over the bound."""

    def build(*args, **kwargs):
        wanted = size(*args, **kwargs)
        if wanted > MAX_CONSTRUCTED_BYTES:
            raise UnreadablePickleError(
                f'{path} asks {constructor.__module__}.{constructor.__name__} to build {wanted:,} bytes, more than '
                f'the {MAX_CONSTRUCTED_BYTES:,} an unpickled constructor may (a damaged or hostile file); '
                'it was not loaded.')
        return constructor(*args, **kwargs)
    return build


def _count_bytes(value=b'', *args):
    return value if isinstance(value, int) else 0  # bytes(n), bytearray(n); from data: bounded by the file


def _array_bytes(subtype=None, shape=(), dtype=float, *args):
    """Bytes ``_reconstruct(subtype, shape, dtype)`` allocates."""
    import numpy as np
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(side, int) for side in shape):
        return 0  # numpy refuses it itself
    return int(np.prod([max(side, 0) for side in shape], dtype=object)) * np.dtype(dtype).itemsize


_SIZED = {('builtins', 'bytes'): _count_bytes, ('builtins', 'bytearray'): _count_bytes,
          **{(core, '_reconstruct'): _array_bytes for core in ('numpy.core.multiarray', 'numpy._core.multiarray')}}


def _plain_global(unpickler, module, name):
    """An allowed plain-data global, bounded where it builds from a number (module doc)."""
    found = pickle.Unpickler.find_class(unpickler, module, name)
    size = _SIZED.get((module, name))
    return _bounded(found, unpickler.path, size) if size else found


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
            return _plain_global(self, module, name)
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
    except (UnsafePickleError, UnreadablePickleError):
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
    path = 'the checkpoint'

    def find_class(self, module, name):
        module, name = _python3_name(module, name)
        allowed = _tensor_globals().get(f'{module}.{name}')
        if allowed is not None:
            return allowed
        if (module, name) in PLAIN_GLOBALS:
            return _plain_global(self, module, name)
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
    try:
        if _is_torchscript(path):
            # torch.load hands TorchScript archives to torch.jit.load, which builds their code
            raise UnsafeWeightsError(f'{path} is a TorchScript archive, not a checkpoint; it was not loaded.')
        return torch.load(path, map_location='cpu', weights_only=False, pickle_module=_TENSORS_IGNORING_OBJECTS)
    except UnsafeWeightsError:
        raise
    except Exception as err:  # noqa: BLE001 - a damaged file fails in many ways inside zipfile and torch
        raise CorruptWeightsError(f'{path} is truncated or not a PyTorch checkpoint ({err.__class__.__name__}).') from err


def _is_torchscript(path):
    """Whether ``path`` is a zip archive with TorchScript code (a damaged zip raises, for the caller to report)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith('/constants.pkl') for name in archive.namelist())
