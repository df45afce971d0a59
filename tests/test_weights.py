"""Weight sources, the one vocabulary, the checked loader and offline failures in seconds."""
import os
import socket
import threading
import time

import pytest
import torch
from torch import nn

from pyiqa_uniqa import network
from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.weights import (
    RANDOM,
    CheckpointMismatchError,
    CorruptWeightsError,
    UnsafeWeightsError,
    WeightsError,
    WeightsNotFoundError,
    WeightSource,
    check_state_dict,
    find_weights,
    load_trained,
    read_checkpoint,
    require_network,
    resolve_weights,
    unwrap_params,
    weight_kind,
)

SOURCE = WeightSource('w.pt', keyword='backbone_weights', flag='--backbone-weights', env_var='MY_WEIGHTS',
                      url='http://127.0.0.1:9/w.pt', get='the authors', what='The test backbone')


class CodeRunningPickle:
    marker = None

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_error_family():
    assert issubclass(WeightsError, UserError) and issubclass(WeightsError, RuntimeError)
    assert issubclass(WeightsNotFoundError, FileNotFoundError)
    assert issubclass(CheckpointMismatchError, ValueError) and issubclass(CheckpointMismatchError, WeightsError)
    assert issubclass(UnsafeWeightsError, WeightsError) and issubclass(CorruptWeightsError, WeightsError)


def test_round_trip_and_unwrap(tmp_path):
    torch.save({'params': {'module.a': torch.arange(3)}}, tmp_path / 'w.pth')
    assert torch.equal(unwrap_params(read_checkpoint(tmp_path / 'w.pth'))['a'], torch.arange(3))
    torch.save({'state_dict': {'a': torch.ones(1)}, 'epoch': 3}, tmp_path / 'trainer.pth')
    assert set(unwrap_params(read_checkpoint(tmp_path / 'trainer.pth'))) == {'a'}
    torch.save({'epoch': 3}, tmp_path / 'no_tensors.pth')
    with pytest.raises(CorruptWeightsError, match='epoch'):
        unwrap_params(read_checkpoint(tmp_path / 'no_tensors.pth'))


def test_safetensors(tmp_path):
    from safetensors.torch import save_file
    save_file({'a': torch.ones(2)}, str(tmp_path / 'w.safetensors'))
    assert torch.equal(read_checkpoint(tmp_path / 'w.safetensors')['a'], torch.ones(2))


def test_code_running_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / 'pwned'
    CodeRunningPickle.marker = marker
    torch.save({'a': CodeRunningPickle()}, tmp_path / 'evil.pt')
    with pytest.raises(UnsafeWeightsError, match='posix.mkdir|mkdir') as info:
        read_checkpoint(tmp_path / 'evil.pt')
    assert not marker.exists()
    assert str(tmp_path / 'evil.pt') in str(info.value)
    assert 'weights_only' not in str(info.value)  # never points to an unsafe load


@pytest.mark.parametrize('damage', ['truncate', 'empty', 'text', 'png'])
def test_damaged_files(tmp_path, damage):
    path = tmp_path / 'w.pt'
    torch.save({'a': torch.randn(100)}, path)
    data = path.read_bytes()
    path.write_bytes({'truncate': data[: len(data) // 2], 'empty': b'', 'text': b'not a checkpoint',
                      'png': b'\x89PNG\r\n\x1a\n' + bytes(64)}[damage])
    with pytest.raises(CorruptWeightsError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    # torch's own text advises re-running with weights_only=False: an unsafe load of a non-checkpoint
    assert 'weights_only' not in message and 'trusted source' not in message


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.delenv('MY_WEIGHTS', raising=False)
    cached = tmp_path / 'torch' / 'hub' / 'pyiqa' / 'w.pt'
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b'x')
    explicit = tmp_path / 'explicit.pt'
    explicit.write_bytes(b'x')
    from_env = tmp_path / 'env.pt'
    from_env.write_bytes(b'x')
    assert find_weights(SOURCE) == cached
    monkeypatch.setenv('MY_WEIGHTS', str(from_env))
    assert find_weights(SOURCE) == from_env
    assert find_weights(SOURCE, explicit) == explicit
    assert find_weights(SOURCE, str(explicit)) == explicit


def test_missing_offline_says_what_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    monkeypatch.delenv('MY_WEIGHTS', raising=False)
    with pytest.raises(WeightsNotFoundError) as info:
        find_weights(SOURCE)
    message = str(info.value)
    for part in ("'w.pt'", 'the authors', '$MY_WEIGHTS', str(tmp_path / 'hub' / 'pyiqa' / 'w.pt'), 'download',
                 'backbone_weights=<path>', '--backbone-weights <path>'):
        assert part in message
    assert not (tmp_path / 'hub' / 'pyiqa' / 'w.pt.part').exists()
    assert not list(tmp_path.rglob('w.pt*'))  # nothing half-downloaded is left


def test_explicit_path_must_exist(tmp_path, monkeypatch):
    with pytest.raises(WeightsNotFoundError, match='does not exist') as info:
        find_weights(SOURCE, tmp_path / 'nope.pt')
    assert 'backbone_weights / --backbone-weights' in str(info.value)
    with pytest.raises(WeightsNotFoundError, match='is a folder'):
        find_weights(SOURCE, tmp_path)
    monkeypatch.setenv('MY_WEIGHTS', str(tmp_path / 'gone.pt'))
    with pytest.raises(WeightsNotFoundError, match=r'\$MY_WEIGHTS is .*gone.pt'):
        find_weights(SOURCE)


def test_one_vocabulary(tmp_path):
    file = tmp_path / 'w.pt'
    file.write_bytes(b'x')
    tagged = WeightSource('open_clip_model.safetensors', keyword='backbone_weights', default_tag='openai')
    assert weight_kind(None) == 'default' and weight_kind(None, tagged) == 'tag'
    assert weight_kind(RANDOM) == 'random'
    assert weight_kind(str(file)) == weight_kind(file) == weight_kind('missing/w.pth') == 'path'
    assert weight_kind('./relative') == weight_kind('~/x') == 'path'
    assert weight_kind('openai') == weight_kind('org/model-id') == 'tag'
    assert resolve_weights(tagged) == 'openai' and resolve_weights(tagged, 'laion2b') == 'laion2b'
    assert resolve_weights(tagged, RANDOM) == RANDOM
    assert resolve_weights(SOURCE, str(file)) == file
    for not_a_file in ('none', 'openai', RANDOM):  # a file-only source refuses names, saying only what it takes
        with pytest.raises(WeightsNotFoundError, match='takes the path of the file w.pt, or None to search') as info:
            find_weights(SOURCE, not_a_file)
        assert str(info.value).count("'random'") == (not_a_file == RANDOM)


@pytest.mark.parametrize('get', ['', 'the authors (https://example.org/w.pt)'])
@pytest.mark.parametrize('train', ['', '`pyiqa-uniqa train -opt options/x.yml`'])
@pytest.mark.parametrize('flag', ['', '--backbone-weights'])
@pytest.mark.parametrize('env_var', ['', 'MY_WEIGHTS'])
def test_messages_are_sentences_whatever_fields_a_source_has(tmp_path, monkeypatch, get, train, flag, env_var):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    monkeypatch.delenv('MY_WEIGHTS', raising=False)
    source = WeightSource('w.pt', keyword='pretrained_model_path', flag=flag, env_var=env_var, get=get, train=train)
    with pytest.raises(WeightsNotFoundError) as info:
        find_weights(source)
    message = str(info.value)
    assert 'pretrained_model_path=<path>' in message and (flag in message)
    assert (get in message) and (train in message)
    assert 'Get it from' not in message and 'explicitly' not in message
    assert '  ' not in message and ' .' not in message and '..' not in message.replace('...', '')
    if get:
        assert f'Download it from {get}' in message
    if train:
        assert f'rain {"your own" if get else "one"} with {train}.' in message
    if env_var:
        assert f'set ${env_var} to it' in message


def test_mismatch_lists_every_kind_at_once():
    reference = {'a': torch.zeros(2), 'b': torch.zeros(3), 'c': torch.zeros(4)}
    with pytest.raises(CheckpointMismatchError) as info:
        check_state_dict({'a': torch.zeros(5), 'x': torch.zeros(1)}, reference, what='Net', source='f.pt')
    error = info.value
    assert error.missing == ['b', 'c'] and error.unexpected == ['x'] and error.wrong_shape == [
        'a: file (5,) vs model (2,)']
    for part in ('f.pt does not fit Net', '2 missing keys: b, c', '1 unexpected keys: x', 'a: file (5,) vs model (2,)'):
        assert part in str(error)
    many = {f'k{i}': torch.zeros(1) for i in range(25)}
    with pytest.raises(CheckpointMismatchError, match=r'25 missing keys: .*\(15 more\)') as info:
        check_state_dict({}, many)
    assert len(info.value.missing) == 25


class _Frozen(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(2, 2)
        self.head = nn.Linear(2, 1)
        self.backbone.requires_grad_(False)


def test_load_checkpoint_complete_trainable_and_rename(tmp_path):
    source = _Frozen()
    torch.save({'params': {f'module.{k}': v for k, v in source.state_dict().items()}}, tmp_path / 'full.pth')
    target = _Frozen()
    loaded = load_trained(target, tmp_path / 'full.pth')
    assert set(loaded) == set(source.state_dict())
    assert all(torch.equal(target.state_dict()[k], v) for k, v in source.state_dict().items())

    heads = {k: v for k, v in source.state_dict().items() if k.startswith('head.')}
    torch.save({'params': heads}, tmp_path / 'heads.pth')
    with pytest.raises(CheckpointMismatchError, match=r'2 missing keys: backbone.bias, backbone.weight'):
        load_trained(_Frozen(), tmp_path / 'heads.pth')
    target = _Frozen()
    load_trained(target, tmp_path / 'heads.pth', expect='trainable')
    assert torch.equal(target.head.weight, source.head.weight)

    official = {'fc.weight': source.head.weight, 'fc.bias': source.head.bias}
    torch.save({'state_dict': official}, tmp_path / 'official.pth')
    target = _Frozen()
    load_trained(target, tmp_path / 'official.pth', key='state_dict', expect='trainable',
                    rename=lambda sd: {k.replace('fc.', 'head.'): v for k, v in sd.items()})
    assert torch.equal(target.head.bias, source.head.bias)


def test_require_network_honours_hf_hub_offline(monkeypatch, tmp_path):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    start = time.monotonic()
    with pytest.raises(WeightsNotFoundError) as info:
        require_network("open_clip's 'openai' weights", SOURCE, cache=tmp_path / 'models--x')
    assert time.monotonic() - start < 0.5
    message = str(info.value)
    for part in ("open_clip's 'openai' weights", 'HF_HUB_OFFLINE is set', 'backbone_weights=<path>',
                 '--backbone-weights', str(tmp_path / 'models--x'), '$MY_WEIGHTS', 'the authors'):
        assert part in message


def test_require_network_answers_within_two_seconds_when_nothing_answers(monkeypatch):
    for variable in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(network, '_probed', {})
    released = threading.Event()

    def hangs(*args, **kwargs):  # a DNS lookup or SYN that never returns (until the test ends)
        released.wait(30)
        raise OSError('released by the test')
    monkeypatch.setattr(socket, 'create_connection', hangs)
    try:
        start = time.monotonic()
        with pytest.raises(WeightsNotFoundError, match='did not answer within 2 s'):
            require_network('The file x.pt', SOURCE, url='https://example.invalid/x.pt')
        assert time.monotonic() - start < network.NETWORK_TIMEOUT_S + 1
        start = time.monotonic()
        with pytest.raises(WeightsNotFoundError):  # the answer is remembered for the process
            require_network('The file x.pt', SOURCE, url='https://example.invalid/y.pt')
        assert time.monotonic() - start < 0.1
    finally:
        released.set()


def test_require_network_passes_when_the_host_answers(monkeypatch):
    for variable in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(network, '_probed', {})
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    try:
        require_network('x', SOURCE, url=f'http://127.0.0.1:{server.getsockname()[1]}/x.pt')
    finally:
        server.close()
