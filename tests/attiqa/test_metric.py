"""The ``attiqa`` metrics: no weights -> how to train; user checkpoints; attributes; as_loss."""
import time

import pytest
import torch

from pyiqa_uniqa.attiqa.arch import ATTIQA
from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.backbones.frozen import has_frozen_features

SMALL = {'backbone': 'test_resnet', 'head_hidden': 16}
RANDOM_SMALL = {**SMALL, 'backbone_weights': 'random'}  # no checkpoint: nothing to take the backbone from


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    net = ATTIQA(**RANDOM_SMALL)
    path = tmp_path_factory.mktemp('attiqa') / 'attiqa_koniq.pth'
    torch.save({'params': net.state_dict()}, path)
    return path, net


def test_without_a_checkpoint_the_error_says_how_to_train_one():
    import pyiqa

    from pyiqa_uniqa.weights import WeightsNotFoundError
    for name in ('attiqa', 'attiqa-spaq'):
        with pytest.raises(WeightsNotFoundError, match='pyiqa-uniqa label') as info:
            pyiqa.create_metric(name, device='cpu', **SMALL)
        assert 'options/attiqa/pretrain.yml' in str(info.value)


def test_metric_scores_and_attributes_from_a_user_checkpoint(checkpoint):
    import pyiqa
    path, net = checkpoint
    metric = pyiqa.create_metric('attiqa-koniq', device='cpu', pretrained_model_path=str(path), **SMALL)
    image = torch.rand(2, 3, 72, 60)
    score = metric(image)
    assert score.shape == (2, 1)
    with torch.no_grad():
        assert torch.allclose(score, net.eval()(image), atol=1e-5)
    quality, attributes = metric(image, return_attributes=True)
    assert torch.equal(quality, score) and list(attributes) == list(ATTRIBUTES)
    assert all(v.shape == (2, 1) for v in attributes.values())


def test_as_loss_gradient_raises_the_score_of_optimised_pixels(checkpoint):
    import pyiqa
    path, _ = checkpoint
    metric = pyiqa.create_metric('attiqa', as_loss=True, device='cpu', pretrained_model_path=str(path), **SMALL)
    assert not metric.lower_better
    pixels = (0.25 + 0.5 * torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0))).requires_grad_(True)
    optimizer = torch.optim.Adam([pixels], lr=0.02)
    start = metric(pixels).item()
    for _ in range(15):
        optimizer.zero_grad()
        (-metric(pixels.clamp(0, 1))).backward()  # higher is better: ascend the score
        optimizer.step()
    assert pixels.grad.abs().sum() > 0
    assert metric(pixels.clamp(0, 1)).item() > start + 1e-3


def test_frozen_backbone_checkpoints_hold_only_the_heads(checkpoint, tmp_path):
    from pyiqa_uniqa.training.base_model import trainable_state_dict
    base_path, _ = checkpoint
    net = ATTIQA(freeze_backbone=True, base_model_path=str(base_path), **SMALL).train()
    assert not net.backbone.training  # frozen BatchNorm statistics stay put
    heads = trainable_state_dict(net)
    assert heads and not any(k.startswith('backbone.') for k in heads)  # no parameters, no BN statistics
    assert all(p.requires_grad for p in net.parameters())  # the optimizer sees the heads only
    torch.nn.init.constant_(net.quality_head[-1].bias, 3.0)
    heads_path = tmp_path / 'heads.pth'
    torch.save({'params': trainable_state_dict(net)}, heads_path)
    with pytest.raises(ValueError, match='base_model_path'):
        ATTIQA(pretrained_model_path=str(heads_path), **SMALL)
    loaded = ATTIQA(pretrained_model_path=str(heads_path), base_model_path=str(base_path), **SMALL)
    image = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        assert torch.allclose(loaded(image), net.eval()(image), atol=1e-5)


def test_bad_checkpoints_are_refused_clearly(checkpoint, tmp_path):
    from pyiqa_uniqa.weights import CorruptWeightsError
    path, _ = checkpoint
    with pytest.raises(ValueError, match='backbone'):
        ATTIQA(backbone='resnet10t', head_hidden=16, pretrained_model_path=str(path))
    truncated = tmp_path / 'cut.pth'
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CorruptWeightsError):
        ATTIQA(pretrained_model_path=str(truncated), **SMALL)


def test_imagenet_weights_without_network_fail_clearly_and_fast(tmp_path):
    start = time.monotonic()
    with pytest.raises(RuntimeError, match='test_resnet.*backbone_weights=<path>'):
        ATTIQA('test_resnet')  # None: timm's ImageNet weights, not cached here, and no network
    assert time.monotonic() - start < 5
    with pytest.raises(FileNotFoundError, match='backbone_weights'):
        ATTIQA('test_resnet', backbone_weights=str(tmp_path / 'missing.pth'))
    with pytest.raises(ValueError, match="'no_such_tag' is not a pretrained tag"):
        ATTIQA('test_resnet', backbone_weights='no_such_tag')


def test_frozen_backbone_features_are_reused_exactly(checkpoint):
    base_path, _ = checkpoint
    net = ATTIQA(freeze_backbone=True, base_model_path=str(base_path), **SMALL).eval()
    images = torch.rand(2, 3, 48, 56)
    with torch.no_grad():
        features = net.frozen_features(images)
        assert features.shape == (2, 1, net.backbone.num_features)
        torch.nn.init.constant_(net.quality_head[-1].bias, 2.0)  # the trained parts change ...
        quality, attributes = net(images, return_attributes=True)
        again, attributes_again = net.forward_from_features(features, return_attributes=True)
    assert torch.equal(quality, again) and all(torch.equal(attributes[k], attributes_again[k]) for k in attributes)
    assert has_frozen_features(net)
    assert not has_frozen_features(ATTIQA(**RANDOM_SMALL))  # a trainable backbone: nothing may be cached


@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
def test_half_precision_backbone_scores_close_to_fp32(checkpoint, precision):
    path, net = checkpoint
    half = ATTIQA(pretrained_model_path=str(path), precision=precision, **SMALL)
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        reference, scores = net.eval()(images), half(images)
    assert scores.dtype == torch.float32 and not torch.equal(scores, reference)  # the backbone ran in half
    assert (scores - reference).abs().max() < 0.02 * reference.abs().max() + 1e-3
