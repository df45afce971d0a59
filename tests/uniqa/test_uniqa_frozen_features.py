"""UniQA splits its forward where the frozen CLIP ends: the same scores through features, an exact
validation cache on the demo recipe, and the frozen tower at half precision."""
import pytest
import torch

from pyiqa_uniqa.backbones.frozen import has_frozen_features
from pyiqa_uniqa.backbones.precision import PrecisionError
from pyiqa_uniqa.training.measurement import runs_without_and_with_feature_cache
from pyiqa_uniqa.uniqa.arch import UniQA
from pyiqa_uniqa.apps.uniqa_demo.demo import ADAPTER_RECIPE


@pytest.fixture(scope='module')
def model(tiny_clip_checkpoint):
    net = UniQA(backbone_weights=str(tiny_clip_checkpoint), model_name='tiny-clip-quickgelu', num_crops=6)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # an adapter that does something
    return net.eval()


def test_forward_is_features_then_the_trainable_rest(model):
    images = torch.rand(3, 3, 240, 260)
    with torch.no_grad():
        features = model.frozen_features(images)
        assert features.shape == (3, 6, model.clip.visual.output_dim)  # every test crop of every image
        assert torch.equal(model(images), model.forward_from_features(features))
        # an image exactly the crop size: six equal views, encoded once, still six rows
        square = model.frozen_features(torch.rand(2, 3, 224, 224))
        assert square.shape[1] == 6 and torch.equal(square, square[:, :1].expand_as(square))
    assert has_frozen_features(model)
    key = model.frozen_features_key()
    model.train()
    try:
        assert model.frozen_features_key() != key  # training views (the given crop) are other features
        assert model.frozen_features(torch.rand(2, 3, 224, 224)).shape[1] == 1
    finally:
        model.eval()
    for option, value in (('num_crops', 5), ('crop_seed', 1), ('test_crops', 'five'), ('pos_embedding', False),
                          ('precision', 'bf16'), ('crop_size', 200)):
        saved = getattr(model, option)
        setattr(model, option, value)
        assert model.frozen_features_key() != key, option
        setattr(model, option, saved)


def test_half_precision_tower_scores_close_to_fp32(tiny_clip_checkpoint):
    images = torch.rand(2, 3, 240, 260)
    scores = {}
    for precision in ('fp32', 'bf16', 'fp16'):
        net = UniQA(backbone_weights=str(tiny_clip_checkpoint), model_name='tiny-clip-quickgelu',
                    precision=precision).eval()
        with torch.no_grad():
            features = net.frozen_features(images)
            scores[precision] = net(images)
        assert features.dtype == torch.float32  # the trainable parts always get fp32
    # a random tiny CLIP is the worst case (its features differ little between images); docs/uniqa.md has
    # the measured differences
    assert torch.allclose(scores['fp16'], scores['fp32'], atol=5e-2)
    assert torch.allclose(scores['bf16'], scores['fp32'], atol=5e-2)
    assert not torch.equal(scores['bf16'], scores['fp32'])  # autocast really ran
    with pytest.raises(PrecisionError, match="precision must be one of fp32, fp16, bf16, not 'fp8'"):
        UniQA(backbone_weights=str(tiny_clip_checkpoint), model_name='tiny-clip-quickgelu', precision='fp8')


def test_demo_recipe_validates_the_same_with_and_without_the_feature_cache(tmp_path):
    """The adapter recipe of the demo (its 32 crops per validation image), a short run: every
    validation score equal to 1e-6 with the cache, and the frozen tower run on the first pass only."""
    datasets = [f'datasets:{phase}:{entry}' for phase in ('train', 'val') for entry in (
        f'dataroot_target={tmp_path / "photos"}', 'build_opts:photos=[coffee, rocket, chelsea, astronaut]',
        'build_opts:distortions=[blur, noise]', 'build_opts:levels=[1, 5]')]
    off, on = runs_without_and_with_feature_cache(ADAPTER_RECIPE, tmp_path, [
        *datasets, 'train:total_iter=12', 'train:total_epoch=~', 'val:val_freq=4'])
    # every 4 iterations, then the final weights (pyiqa ends the run early here: its epoch count assumes a last,
    # partial batch that the training loader drops)
    passes = [i for i, _ in off.validations]
    assert passes == [i for i, _ in on.validations] and passes[0] == 4 and len(passes) >= 2
    for (_, without), (_, with_cache) in zip(off.validations, on.validations):
        assert without.keys() == with_cache.keys()
        assert all(abs(without[k] - with_cache[k]) <= 1e-6 for k in without)
    for without, with_cache in zip(off.val_scores, on.val_scores):
        assert torch.allclose(without, with_cache, atol=1e-6)
    assert on.tower_images['val'] * len(passes) == off.tower_images['val']  # encoded on the first pass only
