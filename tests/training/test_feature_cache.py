"""The exact validation-feature cache: same numbers as without it, never stale, bounded."""
from pathlib import Path

import pytest
import torch

from pyiqa_uniqa.testing.tiny_net import TinyIQANet
from pyiqa_uniqa.training.feature_cache import FrozenFeatureCache
from pyiqa_uniqa.training.measurement import recipe_options, runs_without_and_with_feature_cache

RECIPE = Path(__file__).with_name('tiny_train.yml')
DEMO_RECIPE = Path(__file__).parents[2] / 'options' / 'uniqa' / 'demo.yml'


class CountingNet(TinyIQANet):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.encoded = 0

    def frozen_features(self, images):
        self.encoded += len(images)
        return super().frozen_features(images)


def test_second_pass_reuses_exactly_what_the_first_computed():
    net, cache = CountingNet(crop_size=24).eval(), FrozenFeatureCache()
    images = torch.rand(3, 3, 40, 48)
    first = cache.features(net, images)
    again = cache.features(net, images.clone())  # same content, another tensor
    assert net.encoded == 3 and torch.equal(first, again) and torch.equal(first, net.frozen_features(images))
    assert cache.hits == 3 and cache.misses == 3 and len(cache.entries) == 3


def test_a_changed_image_crop_option_precision_or_backbone_is_encoded_again():
    net, cache = CountingNet(crop_size=24).eval(), FrozenFeatureCache()
    images = torch.rand(2, 3, 40, 48)
    cache.features(net, images)
    changed = images.clone()
    changed[1, 0, 0, 0] += 1e-3  # one pixel of one image
    assert torch.equal(cache.features(net, changed), net.frozen_features(changed))
    assert net.encoded == 2 + 2 + 2  # the whole batch went through the tower again (then the check)
    assert len(cache.entries) == 3

    net.crop_size = 16
    assert torch.equal(cache.features(net, images), net.frozen_features(images))
    assert len(cache.entries) == 2  # emptied: the old crops no longer apply
    net.precision = 'bf16'
    assert cache.features(net, images).shape == (2, 5, 8) and len(cache.entries) == 2
    net.precision = 'fp32'

    before = cache.features(net, images)
    with torch.no_grad():
        net.backbone[0].bias.add_(0.5)  # new frozen weights, in place
    after = cache.features(net, images)
    assert not torch.equal(before, after) and torch.equal(after, net.frozen_features(images))
    net.load_state_dict(net.state_dict())  # a registered frozen part reloaded
    encoded = net.encoded
    cache.features(net, images)
    assert net.encoded == encoded + 2


class BatchNormNet(CountingNet):
    """A frozen but registered BatchNorm in front of the tower: train mode moves its statistics."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stem = torch.nn.BatchNorm2d(3).requires_grad_(False)

    def frozen_features(self, images):
        return super().frozen_features(self.stem(images))


def test_statistics_a_training_step_moves_empty_the_cache():
    net, cache = BatchNormNet(crop_size=24).eval(), FrozenFeatureCache()
    images = torch.rand(2, 3, 40, 48)
    before = cache.features(net, images)
    net.train()
    net(torch.rand(4, 3, 40, 48) * 3)  # a training forward: new running statistics
    net.eval()
    after = cache.features(net, images)
    assert not torch.allclose(before, after) and torch.equal(after, net.frozen_features(images))


def test_the_cache_is_bounded_and_says_so():
    net = CountingNet(crop_size=24).eval()
    one_image = 5 * 8 * 4  # five crops of eight fp32 features
    cache = FrozenFeatureCache(max_mib=2.5 * one_image / 2 ** 20)
    for seed in range(4):
        images = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(cache.features(net, images), net.frozen_features(images))
    assert len(cache.entries) == 2 and cache.bytes == 2 * one_image and cache.not_kept == 2
    assert 'full: 2 encodings not kept' in cache.summary() and '2 inputs in 0.00 MiB' in cache.summary()


@pytest.fixture(scope='module')
def cached_and_uncached_runs(tmp_path_factory):
    root = tmp_path_factory.getbasetemp()
    photos = root / 'tiny_photos'
    return runs_without_and_with_feature_cache(RECIPE, root / 'cache-experiment', [
        f'datasets:train:dataroot_target={photos}', f'datasets:val:dataroot_target={photos}',
        'network:crop_size=32',  # five 32-px crops per 64-px validation image
        'train:total_iter=24', 'val:val_freq=8'])


def test_validation_numbers_are_equal_with_and_without_the_cache(cached_and_uncached_runs):
    uncached, cached = cached_and_uncached_runs
    assert [i for i, _ in cached.validations] == [8, 16, 24, 24]  # pyiqa validates the final weights again
    for (_, without), (_, with_cache) in zip(uncached.validations, cached.validations):
        assert set(without) == {'srcc'}
        assert abs(without['srcc'] - with_cache['srcc']) <= 1e-6
    for without, with_cache in zip(uncached.val_scores, cached.val_scores):
        assert torch.allclose(without, with_cache, rtol=0, atol=1e-6)
    # the head trained between passes: the scores move, the cache only skips the frozen tower
    assert not torch.equal(cached.val_scores[0], cached.val_scores[-1])


def test_the_cache_encodes_each_validation_image_once(cached_and_uncached_runs):
    uncached, cached = cached_and_uncached_runs
    assert uncached.tower_images['train'] == cached.tower_images['train'] == 24 * 4
    images = len(cached.val_scores[0])
    assert uncached.tower_images['val'] == 4 * images * 5 and cached.tower_images['val'] == images * 5
    assert f'{images} inputs in' in cached.summaries[0] and uncached.summaries == []


def test_training_reuse_encodes_k_views_per_image_then_draws_among_them():
    from pyiqa_uniqa.training.feature_cache import TrainingFeatureReuse

    net, reuse = CountingNet().train(), TrainingFeatureReuse(views=2, seed=0)
    paths = ['a.png', 'b.png']
    views = [torch.rand(2, 3, 32, 32) for _ in range(3)]  # three epochs of fresh augmentations
    first = reuse.features(net, views[0], paths)
    second = reuse.features(net, views[1], paths)
    assert net.encoded == 4 and [len(reuse.entries[p]) for p in paths] == [2, 2]
    drawn = reuse.features(net, views[2], paths)  # not encoded: one of the two stored views each
    assert net.encoded == 4 and reuse.reused == 2
    for i in range(2):
        assert any(torch.equal(drawn[i], stored[i]) for stored in (first, second))
    # a batch with an image that lacks views is encoded whole
    reuse.features(net, torch.rand(2, 3, 32, 32), ['a.png', 'c.png'])
    assert net.encoded == 6 and len(reuse.entries['a.png']) == 2 and len(reuse.entries['c.png']) == 1
    # new frozen weights: the stored views are dropped
    with torch.no_grad():
        net.backbone[0].bias.add_(1)
    reuse.features(net, views[0], paths)
    assert net.encoded == 8 and set(reuse.entries) == set(paths)


def test_training_reuse_is_an_option_for_networks_with_frozen_features(tmp_path, monkeypatch):
    from pyiqa.models import build_model

    opt = recipe_options(RECIPE, tmp_path / 'experiment')
    opt['train']['feature_reuse_views'] = 2
    assert build_model(opt).feature_reuse.views == 2
    opt['train']['feature_reuse_views'] = -1
    with pytest.raises(ValueError, match='feature_reuse_views must be a whole number >= 0'):
        build_model(opt)
    opt['train']['feature_reuse_views'] = 2
    monkeypatch.setattr(TinyIQANet, 'frozen_features_key', lambda self: None)  # as if its backbone trained
    with pytest.raises(ValueError, match='needs a network with frozen features .*TinyIQANet has none'):
        build_model(opt)


def test_uniqa_validation_numbers_are_equal_with_and_without_the_cache(tmp_path_factory):
    root = tmp_path_factory.getbasetemp()
    photos = root / 'uniqa_cache_photos'
    small = ['build_opts:size=64', 'build_opts:split_ratios=[0.5, 0.25, 0.25]', 'build_opts:levels=[1, 3]',
             'build_opts:photos=[astronaut, chelsea, coffee, rocket]', 'build_opts:distortions=[blur, noise]']
    datasets = [f'datasets:{phase}:{entry}' for phase in ('train', 'val')
                for entry in (f'dataroot_target={photos}', *small)]
    uncached, cached = runs_without_and_with_feature_cache(DEMO_RECIPE, root / 'uniqa-cache-experiment', [
        *datasets, 'network:num_crops=6', 'train:total_epoch=3', 'train:scheduler:T_max=3', 'val:val_freq=1'])
    passes = [i for i, _ in cached.validations]  # every iteration, then the final weights again
    assert passes == [i for i, _ in uncached.validations] and passes == [*range(1, passes[-1] + 1), passes[-1]]
    for without, with_cache in zip(uncached.val_scores, cached.val_scores):
        assert torch.allclose(without, with_cache, rtol=0, atol=1e-6)
    assert [m for _, m in uncached.validations] == [m for _, m in cached.validations]
    assert not torch.equal(cached.val_scores[0], cached.val_scores[-1])  # the adapter trained
    images = len(cached.val_scores[0])
    assert uncached.tower_images['val'] == len(passes) * images * 6 and cached.tower_images['val'] == images * 6
