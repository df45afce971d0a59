"""Pickles from elsewhere are read without running them: plain data, and tensors beside objects."""
import os
import pickle
import sys

import numpy as np
import pytest
import torch
from torch import nn

from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.safe_pickle import (
    IgnoredObject,
    UnreadablePickleError,
    UnsafePickleError,
    load_plain_pickle,
    load_tensors_ignoring_objects,
)
from pyiqa_uniqa.testing.dassl_checkpoints import dassl_optimization, save_dassl_model, write_dassl_checkpoint
from pyiqa_uniqa.weights import CorruptWeightsError, UnsafeWeightsError


class WritesMarker:
    """A payload: unpickling it with an ordinary unpickler creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, 'w'))


class MakesFolder:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


PLAIN = {1: {'train': np.arange(4), 'val': [4, 5], 'test': (6, 7.5)},
         'meta': {'name': 'koniq', 'scale': np.float64(2.5), 'count': np.int64(3), 'flags': {True, None},
                  'raw': b'\x00\x01', 'dtype': np.dtype('float32'), 'grid': np.ones((2, 3), dtype=np.float32)}}


@pytest.mark.parametrize('protocol', range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_round_trips_in_every_protocol(tmp_path, protocol):
    path = tmp_path / 'split.pkl'
    path.write_bytes(pickle.dumps(PLAIN, protocol=protocol))
    loaded = load_plain_pickle(path)
    assert loaded.keys() == PLAIN.keys() and loaded[1]['val'] == [4, 5] and loaded[1]['test'] == (6, 7.5)
    assert np.array_equal(loaded[1]['train'], np.arange(4))
    assert np.array_equal(loaded['meta']['grid'], PLAIN['meta']['grid'])
    assert {k: v for k, v in loaded['meta'].items() if k != 'grid'} == {
        k: v for k, v in PLAIN['meta'].items() if k != 'grid'}


@pytest.mark.parametrize('payload', [WritesMarker, MakesFolder])
def test_a_payload_is_refused_naming_file_and_global_and_never_runs(tmp_path, payload):
    marker = tmp_path / 'marker'
    path = tmp_path / 'split.pkl'
    path.write_bytes(pickle.dumps({1: {'train': [0, 1], 'test': [payload(marker)]}}))
    with pytest.raises(UnsafePickleError) as info:
        load_plain_pickle(path)
    assert not marker.exists()
    message = str(info.value)
    assert str(path) in message and ('io.open' in message or 'posix.mkdir' in message)
    assert isinstance(info.value, UserError) and isinstance(info.value, pickle.UnpicklingError)


def test_object_arrays_and_classes_are_refused(tmp_path):
    marker = tmp_path / 'marker'
    path = tmp_path / 'objects.pkl'
    path.write_bytes(pickle.dumps(np.array([WritesMarker(marker)], dtype=object)))
    with pytest.raises(UnsafePickleError, match='io.open'):
        load_plain_pickle(path)
    path.write_bytes(pickle.dumps(nn.Linear(2, 2)))
    with pytest.raises(UnsafePickleError, match=r'torch\.'):
        load_plain_pickle(path)
    assert not marker.exists()


@pytest.mark.parametrize('content, message', [(b'', 'is empty'), (b'not a pickle', 'not a readable pickle'),
                                              (pickle.dumps(list(range(100)))[:40], 'not a readable pickle')])
def test_unreadable_files_are_named(tmp_path, content, message):
    path = tmp_path / 'bad.pkl'
    path.write_bytes(content)
    with pytest.raises(UnreadablePickleError, match=message) as info:
        load_plain_pickle(path)
    assert str(path) in str(info.value)
    with pytest.raises(UnreadablePickleError, match='no such file'):
        load_plain_pickle(tmp_path / 'missing.pkl')


class TwoParts(nn.Module):
    def __init__(self):
        super().__init__()
        self.ctx = nn.Parameter(torch.randn(4, 8))
        self.head = nn.Linear(8, 1)


def test_a_dassl_checkpoint_gives_its_tensors_and_ignores_its_objects(tmp_path):
    module = TwoParts()
    marker = tmp_path / 'marker'
    optimizer, scheduler = dassl_optimization(module)
    for _ in range(2):
        optimizer.zero_grad()
        module.ctx.square().sum().backward()
        optimizer.step()
        scheduler.step()
    scheduler.successor.note = WritesMarker(marker)  # a payload deep inside the pickled scheduler
    path = save_dassl_model(tmp_path, 'prompt_learner', module, optimizer, scheduler, epoch=2)
    assert path == tmp_path / 'prompt_learner' / 'model.pth.tar-2'

    with pytest.raises(UnsafeWeightsError):  # what the plain safe loader says about such a file
        from pyiqa_uniqa.weights import read_checkpoint
        read_checkpoint(path)
    loaded = load_tensors_ignoring_objects(path)
    assert not marker.exists()
    assert set(loaded) == {'state_dict', 'epoch', 'optimizer', 'scheduler', 'val_result'}
    assert loaded['epoch'] == 2 and loaded['val_result'] is None
    for key, value in module.state_dict().items():
        assert torch.equal(loaded['state_dict'][key], value)
    assert loaded['optimizer']['param_groups'][0]['momentum'] == 0.9
    successor = loaded['scheduler']['successor']
    assert isinstance(successor, IgnoredObject)
    assert successor.global_name == 'torch.optim.lr_scheduler.CosineAnnealingLR'
    assert not vars(successor)  # its state (the optimizer, the payload) was dropped, not kept
    assert loaded['scheduler']['cons_lr'] == 1e-5 and loaded['scheduler']['last_epoch'] == scheduler.last_epoch


def test_objects_are_never_imported(tmp_path, monkeypatch):
    import types
    module = types.ModuleType('not_installed_anywhere')

    Secret = type('Secret', (), {'__module__': module.__name__})
    module.Secret = Secret
    monkeypatch.setitem(sys.modules, module.__name__, module)
    path = tmp_path / 'with_object.pt'
    torch.save({'weights': torch.ones(2), 'object': Secret()}, path)
    monkeypatch.delitem(sys.modules, module.__name__)
    loaded = load_tensors_ignoring_objects(path)  # an ordinary load would fail: the module is gone
    assert loaded['object'].global_name == 'not_installed_anywhere.Secret'
    assert module.__name__ not in sys.modules
    assert torch.equal(loaded['weights'], torch.ones(2))


def test_write_dassl_checkpoint_trains_and_saves(tmp_path):
    module = TwoParts()
    before = module.ctx.detach().clone()
    path = write_dassl_checkpoint(tmp_path, 'regression', module, epochs=3)
    assert (tmp_path / 'regression' / 'checkpoint').read_text() == 'model.pth.tar-3\n'
    loaded = load_tensors_ignoring_objects(path)
    assert not torch.equal(loaded['state_dict']['ctx'], before)
    assert torch.equal(loaded['state_dict']['ctx'], module.ctx.detach())


def test_torchscript_and_damaged_files_are_refused(tmp_path):
    scripted = torch.jit.script(nn.Linear(2, 2))
    scripted.save(str(tmp_path / 'scripted.pt'))
    with pytest.raises(UnsafeWeightsError, match='TorchScript'):
        load_tensors_ignoring_objects(tmp_path / 'scripted.pt')
    torch.save({'a': torch.ones(100)}, tmp_path / 'good.pt')
    (tmp_path / 'cut.pt').write_bytes((tmp_path / 'good.pt').read_bytes()[:300])
    with pytest.raises(CorruptWeightsError, match='cut.pt'):
        load_tensors_ignoring_objects(tmp_path / 'cut.pt')


class Calls:
    """Pickles as ``function(*args)``: what a damaged or hostile file may ask of an allowed global."""

    def __init__(self, function, *args):
        self.call = (function, args)

    def __reduce__(self):
        return self.call


@pytest.mark.parametrize('call', [
    Calls(bytearray, 2 ** 31), Calls(bytes, 2 ** 28),
    Calls(np._core.multiarray._reconstruct, np.ndarray, (10 ** 11,), b'b'),  # real pickles give the shape (0,)
], ids=['bytearray', 'bytes', 'ndarray'])
def test_allowed_constructors_build_no_more_than_the_bound(tmp_path, call):
    from pyiqa_uniqa.safe_pickle import MAX_CONSTRUCTED_BYTES, UnreadablePickleError
    path = tmp_path / 'split.pkl'
    path.write_bytes(pickle.dumps({'train': call}))
    with pytest.raises(UnreadablePickleError, match=rf'{path.name} asks .* to build [\d,]+ bytes, more than the '
                                                    f'{MAX_CONSTRUCTED_BYTES:,}'):
        load_plain_pickle(path)


def test_a_zip_checkpoint_with_a_damaged_directory_is_a_corrupt_weights_error(tmp_path):
    import io
    from pyiqa_uniqa.weights import read_checkpoint
    buffer = io.BytesIO()
    torch.save({'w': torch.zeros(2)}, buffer)
    data = bytearray(buffer.getvalue())
    # the first central-directory entry says its name is UTF-8 and its name is not: zipfile raises
    # UnicodeDecodeError while listing the archive (the TorchScript check happens before torch.load)
    entry = data.find(b'PK\x01\x02')
    data[entry + 9] |= 0x08
    data[entry + 46] = 0xff
    path = tmp_path / 'ckpt.pt'
    path.write_bytes(bytes(data))
    for load in (read_checkpoint, load_tensors_ignoring_objects):
        with pytest.raises(CorruptWeightsError, match='ckpt.pt is truncated or not a PyTorch checkpoint'):
            load(path)
