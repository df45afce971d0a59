import sys

import pytest
import torch
import torch.nn as nn

from pyiqa_uniqa.backbones import FrozenTowerModule, create_clip, encode_prompts, get_tokenizer


class CountingTokenizer:
    def __init__(self, tokenizer):
        self.tokenizer, self.calls = tokenizer, 0

    def __call__(self, texts):
        self.calls += 1
        return self.tokenizer(texts)


def test_prompts_encoded_once_and_recomputed_after_new_weights():
    clip = create_clip('tiny-clip-quickgelu')
    tokenizer = CountingTokenizer(get_tokenizer('tiny-clip-quickgelu'))
    prompts = ['bad image', 'good image']
    first = encode_prompts(clip, tokenizer, prompts)
    assert encode_prompts(clip, tokenizer, prompts) is first and tokenizer.calls == 1
    assert not first.requires_grad
    new_weights = {k: v + 1 if k == 'ln_final.bias' else v for k, v in clip.state_dict().items()}
    clip.load_state_dict(new_weights)
    changed = encode_prompts(clip, tokenizer, prompts)
    assert tokenizer.calls == 2 and not torch.allclose(changed, first)


def test_prompts_first_encoded_under_autocast_keep_the_towers_precision():
    """A half-precision training step may be the first to ask; validation later reads the same cache."""
    clip = create_clip('tiny-clip-quickgelu')
    tokenizer = get_tokenizer('tiny-clip-quickgelu')
    with torch.no_grad():
        expected = clip.encode_text(tokenizer(['bad image', 'good image']))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        cached = encode_prompts(clip, tokenizer, ['bad image', 'good image'])
    assert cached.dtype == torch.float32 and torch.equal(cached, expected)


class Holder(FrozenTowerModule):
    def __init__(self):
        super().__init__()
        self.hold_frozen('tower', nn.Linear(4, 4))
        self.head = nn.Linear(4, 1)


def test_frozen_tower_is_outside_checkpoints_but_moves():
    net = Holder()
    assert set(net.state_dict()) == {'head.weight', 'head.bias'}
    assert all(p.requires_grad for p in net.parameters())
    net.double().train()
    assert net.tower.weight.dtype == torch.float64
    assert not net.tower.training and not net.tower.weight.requires_grad


def test_tiny_net_implements_the_frozen_feature_protocol():
    from pyiqa_uniqa.backbones.frozen import has_frozen_features
    from pyiqa_uniqa.testing.tiny_net import TinyIQANet

    net = TinyIQANet(crop_size=24).eval()
    images = torch.rand(3, 3, 40, 48)
    features = net.frozen_features(images)
    assert features.shape == (3, 5, 8) and not features.requires_grad  # five crops per image
    assert torch.equal(net(images), net.forward_from_features(features))
    # each image's views do not depend on its batch
    assert torch.equal(net.frozen_features(images[1:2])[0], features[1])
    # the five views are the crops: the first is the centre one
    centre = images[:, :, 8:32, 12:36]
    assert torch.equal(features[:, 0], net.frozen_norm(net.backbone(centre).flatten(1)))
    assert has_frozen_features(net)
    eval_key = net.frozen_features_key()
    net.train()
    assert net.frozen_features(images).shape == (3, 1, 8) and net.frozen_features_key() != eval_key
    # used as a loss, the graph reaches the image
    images.requires_grad_(True)
    net(images).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert not has_frozen_features(Holder())


@pytest.fixture
def replicate_on_cpu_and_meta(monkeypatch):
    """torch's own DataParallel ``replicate``, with its GPU broadcast swapped for copies to devices
    0 -> cpu and 1 -> meta, so the replication logic runs without GPUs."""
    module = sys.modules['torch.nn.parallel.replicate']
    devices = {0: torch.device('cpu'), 1: torch.device('meta')}
    monkeypatch.setattr(module, '_get_device_index', lambda device, optional=False: device)
    monkeypatch.setattr(module, '_broadcast_coalesced_reshape', lambda tensors, targets, detach=False: [
        [t.detach().to(devices[d]) if t.device != devices[d] else t for t in tensors] for d in targets])
    return lambda net: module.replicate(net, [0, 1])


def test_data_parallel_replicas_run_their_frozen_tower_on_their_own_device(replicate_on_cpu_and_meta):
    from pyiqa_uniqa.testing.tiny_net import TinyIQANet

    net = TinyIQANet().eval()
    first, second = replicate_on_cpu_and_meta(net)
    assert first.backbone is net.backbone  # already on the replica's device: no copy
    copy = second.backbone
    assert copy is not net.backbone and next(copy.parameters()).device.type == 'meta'
    assert not any(p.requires_grad for p in copy.parameters())
    assert second(torch.rand(2, 3, 32, 32, device='meta')).device.type == 'meta'
    assert torch.equal(first(torch.ones(1, 3, 32, 32)), net(torch.ones(1, 3, 32, 32)))
    # the next forward's replicas reuse the copy; new tower weights make a new one
    assert replicate_on_cpu_and_meta(net)[1].backbone is copy
    with torch.no_grad():
        net.backbone[0].weight.mul_(2)
    assert replicate_on_cpu_and_meta(net)[1].backbone is not copy
    # the original is untouched: towers stay attributes, outside its state dict
    assert 'backbone' in net.__dict__ and not any(k.startswith('backbone') for k in net.state_dict())
