import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pyiqa_uniqa.data.distortions import ATTRIBUTE_EFFECTS, ATTRIBUTES, DISTORTIONS, LEVELS, apply_distortion

RANDOM_DISTORTIONS = ('noise', 'impulse_noise', 'motion_blur')


# simple, independent statistics for the five attributes (computed on luminance unless colour is the point)
def _luma(x):
    return 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]


def sharpness(x):
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])[None, None]
    return F.conv2d(_luma(x)[None, None], kernel).var().item()


def brightness(x):
    return _luma(x).mean().item()


def contrast(x):
    return _luma(x).std().item()


def colorfulness(x):  # Hasler & Suesstrunk 2003
    r, g, b = x * 255.0
    rg, yb = r - g, 0.5 * (r + g) - b
    return (torch.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * torch.sqrt(rg.mean() ** 2 + yb.mean() ** 2)).item()


def noisiness(x):  # robust sigma of the residual after a 3x3 median filter
    y = _luma(x)[None, None]
    median = F.unfold(F.pad(y, (1, 1, 1, 1), mode='replicate'), 3).median(1).values.view_as(y)
    return ((y - median).abs().median() / 0.6745).item()


STATISTIC = dict(sharpness=sharpness, brightness=brightness, contrast=contrast,
                 colorfulness=colorfulness, noisiness=noisiness)


def test_tables_are_complete_and_monotone():
    assert LEVELS == (1, 2, 3, 4, 5)
    assert set(ATTRIBUTES) == set(STATISTIC)
    required = {'blur', 'noise', 'jpeg', 'brighten', 'darken', 'contrast_low', 'saturation_low', 'pixelate'}
    assert required <= set(DISTORTIONS)
    assert set(ATTRIBUTE_EFFECTS) == set(DISTORTIONS)
    for name, spec in DISTORTIONS.items():
        assert spec.name == name
        assert len(spec.values) == len(LEVELS)
        steps = np.diff(np.asarray(spec.values, dtype=float))
        assert (steps > 0).all() or (steps < 0).all(), f'{name} parameters are not monotone: {spec.values}'
        for attribute, sign in ATTRIBUTE_EFFECTS[name].items():
            assert attribute in ATTRIBUTES and sign in (-1, 1)
    covered = {a for effects in ATTRIBUTE_EFFECTS.values() for a in effects}
    assert covered == set(ATTRIBUTES), 'every ATTIQA attribute should be moved by some distortion'


@pytest.mark.parametrize('name', sorted(DISTORTIONS))
def test_severity_grows_with_level(name, small_photos):
    """Distance from the pristine photo, averaged over the photos, grows strictly with the level."""
    distances = []
    for level in LEVELS:
        mse = [F.mse_loss(apply_distortion(x, name, level, seed=3), x).item() for _, x in small_photos]
        distances.append(np.mean(mse))
    assert all(d > 0 for d in distances)
    assert np.all(np.diff(distances) > 0), f'{name}: {np.round(distances, 5)}'


@pytest.mark.parametrize('name,attribute,sign', [
    (name, attribute, sign)
    for name, effects in sorted(ATTRIBUTE_EFFECTS.items()) for attribute, sign in effects.items()
])
def test_declared_attribute_effects(name, attribute, sign, small_photos):
    statistic = STATISTIC[attribute]
    per_level = []
    for photo, x in small_photos:
        pristine = statistic(x)
        values = [statistic(apply_distortion(x, name, level, seed=1)) for level in LEVELS]
        # every level moves every photo in the declared direction
        assert all(sign * (v - pristine) > 0 for v in values), f'{name} on {photo}: {pristine} -> {values}'
        per_level.append(values)
    mean = np.mean(per_level, axis=0)
    assert np.all(sign * np.diff(mean) > 0), f'{name}: mean {attribute} per level {mean}'


@pytest.mark.parametrize('name', sorted(DISTORTIONS))
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_shape_dtype_range(name, dtype, rng_image):
    single = rng_image.to(dtype)
    out = apply_distortion(single, name, 3)
    assert out.shape == single.shape and out.dtype == dtype and out.device == single.device
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, single)

    batch = torch.stack([single, single.flip(-1)])
    out = apply_distortion(batch, name, 5, seed=7)
    assert out.shape == batch.shape and out.dtype == dtype
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize('name', sorted(DISTORTIONS))
@pytest.mark.parametrize('size', [(1, 1), (2, 3), (5, 17)])
def test_tiny_images(name, size):
    image = torch.rand((3, *size), generator=torch.Generator().manual_seed(0))
    assert apply_distortion(image, name, 5).shape == image.shape


@pytest.mark.parametrize('name', sorted(DISTORTIONS))
def test_seeded_determinism(name, rng_image):
    first = apply_distortion(rng_image, name, 4, seed=11)
    assert torch.equal(first, apply_distortion(rng_image.clone(), name, 4, seed=11))
    other = apply_distortion(rng_image, name, 4, seed=12)
    if name in RANDOM_DISTORTIONS:
        assert not torch.equal(first, other)
    else:
        assert torch.equal(first, other), f'{name} is deterministic and should ignore the seed'


def test_batch_images_get_independent_noise(rng_image):
    out = apply_distortion(torch.stack([rng_image, rng_image]), 'noise', 3)
    assert not torch.equal(out[0], out[1])


@pytest.mark.parametrize('name', sorted(set(DISTORTIONS) - set(RANDOM_DISTORTIONS)))
def test_batch_matches_single_images(name, rng_image):
    batch = torch.stack([rng_image, rng_image.flip(-2)])
    out = apply_distortion(batch, name, 2)
    for image, result in zip(batch, out):
        assert torch.allclose(apply_distortion(image, name, 2), result, atol=1e-6)


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(name='fog'), ValueError, 'unknown distortion'),
    (dict(level=0), ValueError, 'level must be one of'),
    (dict(level=6), ValueError, 'level must be one of'),
    (dict(level='3'), ValueError, 'level must be one of'),
    (dict(level=True), ValueError, 'level must be one of'),
    (dict(img=torch.rand(8, 8)), ValueError, r'\[3, H, W\]'),
    (dict(img=torch.rand(1, 8, 8)), ValueError, r'\[3, H, W\]'),
    (dict(img=torch.rand(4, 8, 8)), ValueError, r'\[3, H, W\]'),
    (dict(img=torch.rand(1, 1, 3, 8, 8)), ValueError, r'\[3, H, W\]'),
    (dict(img=torch.rand(3, 0, 8)), ValueError, 'non-empty'),
    (dict(img=torch.rand(3, 8, 8) * 255), ValueError, 'divide 0-255'),
    (dict(img=torch.rand(3, 8, 8) - 0.5), ValueError, r'values in \[0, 1\]'),
    (dict(img=torch.full((3, 8, 8), float('nan'))), ValueError, 'NaN'),
    (dict(img=torch.zeros(3, 8, 8, dtype=torch.uint8)), TypeError, 'float tensor'),
    (dict(img=np.zeros((3, 8, 8), dtype=np.float32)), TypeError, 'torch.Tensor'),
])
def test_bad_input_is_rejected(kwargs, error, match):
    call = dict(img=torch.rand(3, 8, 8), name='blur', level=2) | kwargs
    with pytest.raises(error, match=match):
        apply_distortion(call['img'], call['name'], call['level'])
