"""The precision vocabulary, frozen-tower autocast and what a device cannot run."""
import pytest
import torch

from pyiqa_uniqa.backbones.precision import (
    PrecisionError,
    check_precision,
    frozen_autocast,
    training_precision,
)


def test_frozen_autocast_runs_the_tower_at_its_precision():
    linear = torch.nn.Linear(8, 8)
    x = torch.randn(2, 8)
    for precision, dtype in (('fp32', torch.float32), ('fp16', torch.float16), ('bf16', torch.bfloat16)):
        with frozen_autocast(precision, 'cpu'):
            assert linear(x).dtype == dtype
    # fp32 adds no autocast of its own: inside a bf16 training step the tower runs in bf16
    with torch.autocast('cpu', dtype=torch.bfloat16), frozen_autocast('fp32', 'cpu'):
        assert linear(x).dtype == torch.bfloat16
    with torch.autocast('cpu', dtype=torch.bfloat16), frozen_autocast('fp16', torch.device('cpu')):
        assert linear(x).dtype == torch.float16


def test_unknown_and_unsupported_precisions_say_what_to_use(monkeypatch):
    from pyiqa_uniqa.errors import UserError
    assert issubclass(PrecisionError, UserError) and issubclass(PrecisionError, ValueError)
    with pytest.raises(PrecisionError, match="one of fp32, fp16, bf16, not 'half'"):
        check_precision('half', 'cpu')
    with pytest.raises(PrecisionError, match="train.precision must be one of .* not 'amp'"):
        training_precision('amp', 'cpu')
    with pytest.raises(PrecisionError, match='needs torch.autocast.*on meta; use fp32'):
        check_precision('bf16', 'meta')
    assert check_precision('fp32', 'meta') == 'fp32'
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda *a: 'Tesla V100')
    with pytest.raises(PrecisionError, match='bf16 is not supported by Tesla V100; use fp16'):
        check_precision('bf16', 'cuda')
    assert check_precision('fp16', 'cuda') == 'fp16'


def test_auto_training_precision(monkeypatch):
    assert training_precision('auto', 'cpu') == 'fp32'
    assert training_precision('bf16', 'cpu') == 'bf16'
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: True)
    assert training_precision('auto', 'cuda') == 'bf16'
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: False)
    assert training_precision('auto', 'cuda:1') == 'fp16'


def test_a_half_precision_tower_moves_scores_a_little_on_real_photos():
    from pyiqa_uniqa.backbones.clip_input import resize_center_crop
    from pyiqa_uniqa.data.images import image_to_tensor
    from pyiqa_uniqa.data.photos import load_photos
    from pyiqa_uniqa.testing.tiny_net import TinyIQANet

    images = torch.stack([resize_center_crop(image_to_tensor(array)[None], 224)[0] for _, array in load_photos()])
    torch.manual_seed(0)
    net = TinyIQANet(crop_size=96).eval()
    reference = net(images)
    for precision, bound in (('bf16', 2e-3), ('fp16', 2e-4)):  # measured: 3.3e-4 and 5.7e-5
        net.precision = precision
        difference = (net(images) - reference).abs().max()
        assert 0 < difference < bound, precision
