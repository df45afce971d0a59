import os

import pytest
import torch

from pyiqa_uniqa.weights import (CorruptWeightsError, UnsafeWeightsError, WeightsNotFoundError,
                                 find_weights, load_state_dict, unwrap_params)


class CodeRunningPickle:
    marker = None

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_round_trip_and_unwrap(tmp_path):
    torch.save({'params': {'module.a': torch.arange(3)}}, tmp_path / 'w.pth')
    assert torch.equal(unwrap_params(load_state_dict(tmp_path / 'w.pth'))['a'], torch.arange(3))


def test_safetensors(tmp_path):
    from safetensors.torch import save_file
    save_file({'a': torch.ones(2)}, str(tmp_path / 'w.safetensors'))
    assert torch.equal(load_state_dict(tmp_path / 'w.safetensors')['a'], torch.ones(2))


def test_code_running_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / 'pwned'
    CodeRunningPickle.marker = marker
    torch.save({'a': CodeRunningPickle()}, tmp_path / 'evil.pt')
    with pytest.raises(UnsafeWeightsError, match='posix.mkdir|mkdir'):
        load_state_dict(tmp_path / 'evil.pt')
    assert not marker.exists()


@pytest.mark.parametrize('damage', ['truncate', 'empty', 'text'])
def test_damaged_files(tmp_path, damage):
    path = tmp_path / 'w.pt'
    torch.save({'a': torch.randn(100)}, path)
    data = path.read_bytes()
    path.write_bytes({'truncate': data[: len(data) // 2], 'empty': b'', 'text': b'not a checkpoint'}[damage])
    with pytest.raises(CorruptWeightsError):
        load_state_dict(path)


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    cached = tmp_path / 'torch' / 'hub' / 'pyiqa' / 'w.pt'
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b'x')
    explicit = tmp_path / 'explicit.pt'
    explicit.write_bytes(b'x')
    from_env = tmp_path / 'env.pt'
    from_env.write_bytes(b'x')
    assert find_weights('w.pt') == cached
    monkeypatch.setenv('MY_WEIGHTS', str(from_env))
    assert find_weights('w.pt', env_var='MY_WEIGHTS') == from_env
    assert find_weights('w.pt', path=explicit, env_var='MY_WEIGHTS') == explicit


def test_missing_offline_says_what_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    monkeypatch.delenv('MY_WEIGHTS', raising=False)
    with pytest.raises(WeightsNotFoundError) as info:
        find_weights('w.pt', env_var='MY_WEIGHTS', url='http://127.0.0.1:9/w.pt', source_hint='the authors')
    message = str(info.value)
    for part in ("'w.pt'", 'the authors', '$MY_WEIGHTS', str(tmp_path / 'hub' / 'pyiqa' / 'w.pt'), 'download'):
        assert part in message
    assert not (tmp_path / 'hub' / 'pyiqa' / 'w.pt.part').exists()


def test_explicit_path_must_exist(tmp_path):
    with pytest.raises(WeightsNotFoundError, match='does not exist'):
        find_weights('w.pt', path=tmp_path / 'nope.pt')
