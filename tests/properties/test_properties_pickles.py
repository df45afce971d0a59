"""Generated pickles and checkpoints, whole and damaged, through the safe readers.

Plain data of the allowed types (dicts, lists, tuples, sets, numbers, text, bytes, bytearrays,
numpy arrays), pickled with every protocol, then cut, bytes flipped, or a constructor call of an
allowed type with a drawn size put in, goes to ``load_plain_pickle``; ``torch.save`` checkpoints
(zip and legacy format) of generated state dicts, damaged the same ways, go to ``read_checkpoint``
and ``load_tensors_ignoring_objects``. The outcome must be the data (whatever it is: None is data)
or a ``UserError`` naming the file (property_bounds.py).
"""
import io
import pickle
import tempfile
from pathlib import Path

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from property_bounds import cases, check_case

from pyiqa_uniqa.safe_pickle import load_plain_pickle, load_tensors_ignoring_objects
from pyiqa_uniqa.weights import read_checkpoint

ARRAYS = st.builds(lambda shape, dtype: (np.arange(int(np.prod(shape))) % 7).astype(dtype).reshape(shape),
                   st.lists(st.integers(0, 4), max_size=3), st.sampled_from(('uint8', 'int64', 'float32', 'bool')))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
                    st.binary(max_size=10), st.binary(max_size=10).map(bytearray), ARRAYS)
PLAIN = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple)
                     | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


class Calls:
    """Pickles as ``function(*args)``: an allowed constructor asked for a drawn size."""

    def __init__(self, function, *args):
        self.call = (function, args)

    def __reduce__(self):
        return self.call


SIZES = st.sampled_from((0, 1, 2 ** 20, 2 ** 26 + 1, 2 ** 31, 2 ** 40))
CONSTRUCTOR_CALLS = st.one_of(
    st.builds(lambda n: Calls(bytearray, n), SIZES), st.builds(lambda n: Calls(bytes, n), SIZES),
    st.builds(lambda n: Calls(np._core.multiarray._reconstruct, np.ndarray, (n,), b'b'), SIZES))


def damaged(draw, data):
    """``data`` cut or with bytes flipped; places are drawn as fractions of its length, because a legacy
    ``torch.save`` file's length varies from run to run (it holds object ids)."""
    def place():
        return min(len(data) - 1, int(draw(st.floats(0, 1)) * len(data)))

    damage = draw(st.sampled_from(('none', 'cut', 'flip')))
    if damage == 'cut':
        return data[:place()]
    if damage == 'flip':
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 6))):
            data[place()] = draw(st.integers(0, 255))
        return bytes(data)
    return data


@st.composite
def pickles(draw):
    payload = draw(st.one_of(PLAIN, st.dictionaries(st.sampled_from(('train', 'val')), CONSTRUCTOR_CALLS, min_size=1)))
    return damaged(draw, pickle.dumps(payload, protocol=draw(st.integers(0, pickle.HIGHEST_PROTOCOL))))


@st.composite
def checkpoints(draw):
    names = draw(st.lists(st.text('abcdefgh.', min_size=1, max_size=8), min_size=1, max_size=4, unique=True))
    state = {name: torch.arange(draw(st.integers(0, 6)), dtype=torch.float32) for name in names}
    payload = draw(st.sampled_from(('state', 'params', 'with plain data')))
    wrapped = {'state': state, 'params': {'params': state}, 'with plain data': {'state_dict': state, 'epoch': 3}}[payload]
    buffer = io.BytesIO()
    torch.save(wrapped, buffer, _use_new_zipfile_serialization=draw(st.booleans()))
    return damaged(draw, buffer.getvalue())


def _through(loader, data, suffix, name):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f'file{suffix}'
        path.write_bytes(data)
        check_case(name, lambda: loader(path), [str(path), path.name], Path(folder), finite=lambda data: True)


@settings(max_examples=cases(600))
@given(pickles())
def test_generated_pickles_through_load_plain_pickle(data):
    _through(load_plain_pickle, data, '.pkl', 'load_plain_pickle')


@settings(max_examples=cases(300))
@given(checkpoints())
def test_generated_checkpoints_through_load_state_dict(data):
    _through(read_checkpoint, data, '.pth', 'read_checkpoint')


@settings(max_examples=cases(300))
@given(checkpoints())
def test_generated_checkpoints_through_load_tensors_ignoring_objects(data):
    _through(load_tensors_ignoring_objects, data, '.pth', 'load_tensors_ignoring_objects')
