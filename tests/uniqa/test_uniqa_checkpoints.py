"""Adapter checkpoints use the official keys; weight files are found, checked and loaded safely."""
import pickle

import pytest
import torch

from pyiqa_uniqa.uniqa.adapter import ResidualAdapter
from pyiqa_uniqa.uniqa.arch import UniQA
from pyiqa_uniqa.weights import (
    CheckpointMismatchError,
    CorruptWeightsError,
    UnsafeWeightsError,
    WeightsError,
    WeightsNotFoundError,
)

OFFICIAL_KEYS = {'adapter.fc.0.weight', 'adapter.fc.2.weight', 'score_level'}


@pytest.fixture(scope='module')
def tiny_model(tiny_clip_checkpoint):
    return UniQA(backbone_weights=str(tiny_clip_checkpoint), model_name='tiny-clip-quickgelu')


def test_checkpoint_holds_exactly_the_official_trainable_keys(tiny_model, tiny_clip_checkpoint):
    assert set(tiny_model.state_dict()) == OFFICIAL_KEYS
    assert {n for n, p in tiny_model.named_parameters()} == OFFICIAL_KEYS
    zero_shot = UniQA(backbone_weights=str(tiny_clip_checkpoint), model_name='tiny-clip-quickgelu', use_adapter=False)
    assert set(zero_shot.state_dict()) == {'score_level'}
    # ViT-B/16 (512-d features): the 262,149 trainable parameters of the official adapter
    assert sum(p.numel() for p in ResidualAdapter(512).parameters()) + 5 == 262_149


def test_round_trip_and_official_layouts_load(tiny_model, tiny_clip_checkpoint, tmp_path):
    with torch.no_grad():
        for p in tiny_model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    images = torch.rand(2, 3, 240, 250)
    expected = tiny_model.eval()(images)
    for name, payload in (('pyiqa.pth', {'params': tiny_model.state_dict()}),  # pyiqa / official repo save
                          ('bare.pth', tiny_model.state_dict()),
                          ('ddp.pth', {'params': {f'module.{k}': v for k, v in tiny_model.state_dict().items()}})):
        torch.save(payload, tmp_path / name)
        loaded = UniQA(backbone_weights=str(tiny_clip_checkpoint), model_name='tiny-clip-quickgelu',
                       pretrained_model_path=str(tmp_path / name)).eval()
        assert torch.equal(loaded(images), expected), name


def test_wrong_adapter_files_are_refused_with_reasons(tiny_model, tmp_path):
    wrong_shape = {'params': {'adapter.fc.0.weight': torch.zeros(256, 512), 'adapter.fc.2.weight': torch.zeros(512, 256),
                              'score_level': torch.zeros(5)}}
    torch.save(wrong_shape, tmp_path / 'vitb.pth')
    with pytest.raises(CheckpointMismatchError, match='adapter.fc.0.weight: file \\(256, 512\\)'):
        tiny_model.load_adapter(tmp_path / 'vitb.pth')
    torch.save({'params': {'score_level': torch.zeros(5)}}, tmp_path / 'partial.pth')
    with pytest.raises(CheckpointMismatchError, match='2 missing keys'):
        tiny_model.load_adapter(tmp_path / 'partial.pth')

    good = tmp_path / 'good.pth'
    torch.save({'params': tiny_model.state_dict()}, good)
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CorruptWeightsError, match='truncated.pth'):
        tiny_model.load_adapter(truncated)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), 'w'))  # would create the marker file if ever unpickled


def test_hostile_pickle_is_never_executed(tiny_model, tmp_path):
    marker = tmp_path / 'pwned'
    hostile = tmp_path / 'hostile.pth'
    torch.save({'params': {'score_level': _Payload(marker)}}, hostile, pickle_protocol=2)
    with pytest.raises(UnsafeWeightsError):
        tiny_model.load_adapter(hostile)
    assert not marker.exists()
    with open(tmp_path / 'plain.pkl', 'wb') as f:
        pickle.dump(_Payload(marker), f)
    with pytest.raises(WeightsError):  # refused, as unsafe or as not a checkpoint
        tiny_model.load_adapter(tmp_path / 'plain.pkl')
    assert not marker.exists()


def test_missing_backbone_says_where_to_get_it_and_where_to_put_it(monkeypatch, tmp_path):
    monkeypatch.delenv('UNIQA_WEIGHTS', raising=False)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    with pytest.raises(WeightsNotFoundError) as err:
        UniQA()
    message = str(err.value)
    for needle in ('UniQA_weight.pt', '1stL1EqYvjkThGDpfPWRQzvbA780FKM4n', 'tnnq', '$UNIQA_WEIGHTS',
                   str(tmp_path / 'torch_home' / 'hub' / 'pyiqa' / 'UniQA_weight.pt')):
        assert needle in message


def test_backbone_found_through_env_var_and_cache(monkeypatch, tmp_path, tiny_clip_checkpoint):
    expected = torch.load(tiny_clip_checkpoint, weights_only=True)

    def assert_loaded(model):  # every tensor of the file, not a random init
        assert set(model.clip.state_dict()) == set(expected)
        assert all(torch.equal(value, expected[key].float()) for key, value in model.clip.state_dict().items())

    monkeypatch.setenv('UNIQA_WEIGHTS', str(tiny_clip_checkpoint))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))  # empty cache: the env var must be what finds it
    assert_loaded(UniQA(model_name='tiny-clip-quickgelu'))
    monkeypatch.delenv('UNIQA_WEIGHTS')
    cache = tmp_path / 'hub' / 'pyiqa'
    cache.mkdir(parents=True)
    (cache / 'UniQA_weight.pt').write_bytes(tiny_clip_checkpoint.read_bytes())
    assert_loaded(UniQA(model_name='tiny-clip-quickgelu'))


def test_adapter_metric_without_adapter_says_how_to_train_it(tiny_clip_checkpoint, monkeypatch, tmp_path):
    import pyiqa

    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as err:
        pyiqa.create_metric('uniqa-koniq', device='cpu', model_name='tiny-clip-quickgelu',
                            backbone_weights=str(tiny_clip_checkpoint))
    message = str(err.value)
    for needle in ('uniqa_koniq_adapter.pth', 'pyiqa-uniqa train -opt options/uniqa/koniq.yml',
                   'pretrained_model_path=<path>', str(tmp_path / 'hub' / 'pyiqa' / 'uniqa_koniq_adapter.pth')):
        assert needle in message


def test_adapter_metric_finds_the_adapter_in_pyiqas_cache_dir(tiny_model, tiny_clip_checkpoint, monkeypatch,
                                                              tmp_path):
    import pyiqa

    trained = {key: torch.randn_like(value) for key, value in tiny_model.state_dict().items()}
    cache = tmp_path / 'hub' / 'pyiqa'
    cache.mkdir(parents=True)
    torch.save({'params': trained}, cache / 'uniqa_koniq_adapter.pth')  # where the message says to put it
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    metric = pyiqa.create_metric('uniqa-koniq', device='cpu', model_name='tiny-clip-quickgelu',
                                 backbone_weights=str(tiny_clip_checkpoint))
    assert all(torch.equal(value, trained[key]) for key, value in metric.net.state_dict().items())
