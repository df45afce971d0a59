"""Every network that implements the frozen-feature protocol honours it: its forward is
forward_from_features(frozen_features(x)) in both modes, an image's views do not depend on its
batch, and the validation cache gives its numbers back exactly."""
import pytest
import torch

from pyiqa_uniqa.backbones.frozen import has_frozen_features
from pyiqa_uniqa.training.feature_cache import FrozenFeatureCache


def tiny_net():
    from pyiqa_uniqa.testing.tiny_net import TinyIQANet
    return TinyIQANet(crop_size=24)


def clip_agiqa():
    from pyiqa_uniqa.clip_agiqa.arch import CLIPAGIQA
    return CLIPAGIQA(model_name='tiny-clip-quickgelu', backbone_weights='random')


def attiqa_frozen_backbone():
    from pyiqa_uniqa.attiqa.arch import ATTIQA
    return ATTIQA(backbone='test_resnet', head_hidden=16, backbone_weights='random', freeze_backbone=True)


def uniqa():
    from pyiqa_uniqa.uniqa.arch import UniQA
    return UniQA(model_name='tiny-clip-32px-quickgelu', backbone_weights='random', crop_size=32, num_crops=6)


NETWORKS = {'TinyIQANet': tiny_net, 'CLIPAGIQA': clip_agiqa, 'ATTIQA(freeze_backbone)': attiqa_frozen_backbone,
            'UniQA': uniqa}


@pytest.mark.parametrize('build', NETWORKS.values(), ids=NETWORKS)
def test_the_protocol_holds(build):
    torch.manual_seed(0)
    net = build()
    images = torch.rand(3, 3, 40, 56, generator=torch.Generator().manual_seed(1))
    for mode in ('eval', 'train'):
        getattr(net, mode)()
        if mode == 'train':
            net.apply(lambda m: m.eval() if isinstance(m, torch.nn.Dropout) else None)  # same numbers twice
        assert has_frozen_features(net)
        with torch.no_grad():
            features = net.frozen_features(images)
            assert features.ndim >= 3 and features.shape[0] == 3 and not features.requires_grad
            assert torch.equal(net(images), net.forward_from_features(features)), mode
            alone = net.frozen_features(images[1:2])
        assert torch.allclose(alone[0], features[1], atol=1e-5), mode  # views do not depend on the batch
        hash(net.frozen_features_key())
    train_key = net.frozen_features_key()
    net.eval()
    assert net.frozen_features_key() != train_key

    cache = FrozenFeatureCache()
    with torch.no_grad():
        first = net.forward_from_features(cache.features(net, images))
        again = net.forward_from_features(cache.features(net, images))
    assert torch.equal(first, again) and torch.equal(first, net(images)) and cache.hits == 3


def bundled_photos_224():
    """The bundled photos, resized and centre-cropped to 224 px: [N, 3, 224, 224] in [0, 1]."""
    from pyiqa_uniqa.backbones.clip_input import resize_center_crop
    from pyiqa_uniqa.data.images import image_to_tensor
    from pyiqa_uniqa.data.photos import load_photos
    return torch.stack([resize_center_crop(image_to_tensor(array)[None], 224)[0] for _, array in load_photos()])


def half_precision_changes(build, images):
    """A seeded ``build()``'s fp32 scores of ``images`` and the largest change bf16 and fp16 make to them."""
    torch.manual_seed(0)
    net = build().eval()
    changes = {}
    with torch.no_grad():
        reference = net(images)
        for precision in ('bf16', 'fp16'):
            net.precision = precision
            changes[precision] = (net(images) - reference).abs().max().item()
    return reference, changes


@pytest.mark.parametrize('build', NETWORKS.values(), ids=NETWORKS)
def test_half_precision_towers_move_scores_a_little_on_real_photos(build):
    """The ``precision`` argument reaches the frozen tower (scores change) and costs little accuracy:
    measured max differences, bf16 / fp16, on the bundled photos: TinyIQANet 8.1e-4 / 6.1e-5,
    CLIP-AGIQA 2.4e-4 / 1.1e-5, ATTIQA 5.5e-5 / 9.9e-6, UniQA 9.9e-4 / 1.0e-4
    (``python tests/backbones/precision_report.py`` prints them)."""
    _, changes = half_precision_changes(build, bundled_photos_224())
    for precision, bound in (('bf16', 5e-3), ('fp16', 5e-4)):
        assert 0 < changes[precision] < bound, precision
