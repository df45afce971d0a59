"""Test-time crops are deterministic and batched; odd inputs get finite scores instead of errors."""
import numpy as np
import pytest
import torch
from PIL import Image

from pyiqa_uniqa.uniqa.arch import UniQA
from pyiqa_uniqa.uniqa.crops import (
    fit_to_crop,
    five_crop_offsets,
    random_crop_offsets,
    view_crops,
)


@pytest.fixture(scope='module')
def model(tiny_clip_checkpoint):
    return UniQA(backbone_weights=str(tiny_clip_checkpoint), model_name='tiny-clip-quickgelu').eval()


def test_random_crops_are_seeded_per_image_size():
    offsets = random_crop_offsets(384, 512, 224, 10, seed=0)
    assert offsets == random_crop_offsets(384, 512, 224, 10, seed=0)
    assert offsets != random_crop_offsets(384, 512, 224, 10, seed=1)
    assert offsets != random_crop_offsets(384, 500, 224, 10, seed=0)
    assert len(set(offsets)) > 5
    assert all(0 <= top <= 160 and 0 <= left <= 288 for top, left in offsets)
    assert five_crop_offsets(384, 512, 224) == [(80, 144), (0, 0), (0, 288), (160, 0), (160, 288)]


def test_scores_do_not_depend_on_run_or_batch(model):
    torch.manual_seed(0)
    images = torch.rand(3, 3, 300, 400)
    with torch.no_grad():
        together = model(images)
        torch.manual_seed(123)  # the global RNG has no say in the crops
        alone = torch.cat([model(image[None]) for image in images])
        again = model(images)
    assert together.shape == (3, 1)
    assert torch.equal(together, again)
    assert torch.allclose(together, alone, atol=1e-6)


def test_crops_of_all_images_go_through_the_encoder_together(model, monkeypatch):
    calls = []
    original = model.encode
    monkeypatch.setattr(model, 'encode', lambda x: calls.append(x.shape) or original(x))
    with torch.no_grad():
        model(torch.rand(4, 3, 256, 320))
    assert calls == [(40, 3, 224, 224)]


def test_identical_crops_are_scored_once():
    crops, views = view_crops(torch.rand(2, 3, 224, 224), 224, 'random', 10)
    assert crops.shape == (2, 3, 224, 224) and views.tolist() == [0] * 10


@pytest.mark.parametrize('shape', [(1, 3, 100, 80), (1, 3, 16, 1200), (1, 3, 1200, 30), (2, 3, 224, 224),
                                   (1, 3, 1024, 768), (1, 1, 300, 300), (1, 4, 300, 300), (3, 260, 270)])
def test_odd_tensor_inputs_get_finite_scores(model, shape):
    with torch.no_grad():
        score = model(torch.rand(*shape))
    assert score.shape == ((shape[0] if len(shape) == 4 else 1), 1)
    assert torch.isfinite(score).all()


def test_small_images_are_upscaled_to_the_crop_keeping_aspect():
    assert fit_to_crop(torch.rand(1, 3, 100, 50), 224).shape == (1, 3, 448, 224)
    big = torch.rand(1, 3, 300, 400)
    assert fit_to_crop(big, 224) is big


def test_training_mode_scores_the_given_crop_once(model, monkeypatch):
    calls = []
    original = model.encode
    monkeypatch.setattr(model, 'encode', lambda x: calls.append(tuple(x.shape)) or original(x))
    images = torch.rand(5, 3, 224, 224)
    model.train()
    try:
        with torch.no_grad():
            scores = model(images)
            assert model.frozen_features(images).shape[:2] == (5, 1)  # one view per image: the one given
    finally:
        model.eval()
    assert calls[0] == (5, 3, 224, 224)  # each image encoded once, as given, in one batch
    with torch.no_grad():
        assert torch.allclose(scores, model(images), atol=1e-6)  # at the crop size, eval's only view is the same


def test_image_files_through_pyiqa(tiny_clip_checkpoint, tmp_path):
    """grayscale, RGBA and 16-bit files, loaded by pyiqa's own reader, get finite scores."""
    import pyiqa

    metric = pyiqa.create_metric('uniqa', device='cpu', model_name='tiny-clip-quickgelu',
                                 backbone_weights=str(tiny_clip_checkpoint))
    rng = np.random.default_rng(0)
    rgb = (rng.random((180, 700, 3)) * 255).astype('uint8')
    files = {'gray.png': Image.fromarray(rgb[..., 0]), 'rgba.png': Image.fromarray(np.dstack([rgb, rgb[..., :1]])),
             'gray16.png': Image.fromarray((rng.random((120, 90)) * 65535).astype('uint16')),
             'strip.jpg': Image.fromarray(rgb[:20])}
    for name, image in files.items():
        image.save(tmp_path / name)
        score = metric(str(tmp_path / name))
        assert score.shape == (1, 1) and torch.isfinite(score).all(), name


def test_thin_images_are_cropped_from_the_source_never_upscaled_whole():
    # the crops of the upscaled image, computed from the source alone: same values as fit_to_crop's
    images = torch.rand(2, 3, 50, 130, generator=torch.Generator().manual_seed(0))
    crops, views = view_crops(images, 224, 'five')
    fitted = fit_to_crop(images, 224)
    expected, _ = view_crops(fitted, 224, 'five')
    assert crops.shape == expected.shape and torch.allclose(crops, expected, atol=1e-4)
    # a 2x65535 strip would be 224x7.3M pixels (20 GB) upscaled whole (an allocation error here);
    # its crops take a few MB
    crops, _ = view_crops(torch.rand(1, 3, 2, 65535), 224, 'random', 10)
    assert crops.shape == (10, 3, 224, 224)
