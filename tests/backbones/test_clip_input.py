"""ClipInput: open_clip's evaluation preprocessing, on batched tensors."""
import open_clip
import pytest
import torch
from PIL import Image

from pyiqa_uniqa.backbones.clip import create_clip
from pyiqa_uniqa.backbones.clip_input import CLIP_MEAN, CLIP_STD, ClipInput, resize_center_crop
from pyiqa_uniqa.data.images import image_to_tensor
from pyiqa_uniqa.data.photos import load_photos


def test_matches_open_clips_own_eval_transform_on_real_photos():
    transform = open_clip.image_transform(224, is_train=False)  # PIL resize, centre crop, normalise
    clip_input = ClipInput()
    for name, array in load_photos():  # square and landscape, 300 to 1411 px
        reference = transform(Image.fromarray(array))
        ours = clip_input(image_to_tensor(array)[None])[0]
        difference = (ours - reference).abs()
        # what remains is PIL's rounding to 8 bits after resampling (~0.5/255 per pixel)
        assert difference.mean() < 0.006 and difference.max() < 0.08, name


def test_sizes_and_offsets_follow_torchvision():
    image = torch.arange(10 * 17, dtype=torch.float32).reshape(1, 1, 10, 17) / 170
    assert resize_center_crop(image, 10).shape == (1, 1, 10, 10)
    # no resize needed: the crop offset is round((17 - 10) / 2) = 4, as CenterCrop's
    assert torch.equal(resize_center_crop(image, 10), image[..., :, 4:14])
    assert torch.equal(resize_center_crop(image[..., :10, :10], 10), image[..., :10, :10])
    tall = torch.rand(2, 3, 300, 7)
    assert resize_center_crop(tall, 5).shape == (2, 3, 5, 5)


def test_of_reads_the_models_size_and_statistics():
    import open_clip
    assert (CLIP_MEAN, CLIP_STD) == (open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD)
    model = create_clip('tiny-clip-quickgelu')
    clip_input = ClipInput.of(model)
    assert clip_input.size == 224
    assert torch.equal(clip_input.mean.flatten(), torch.tensor(CLIP_MEAN))
    assert torch.equal(clip_input.std.flatten(), torch.tensor(CLIP_STD))
    assert ClipInput.of(model.visual).size == 224
    model.visual.preprocess_cfg = {**model.visual.preprocess_cfg, 'size': (256, 256), 'mean': (0.5,) * 3}
    other = ClipInput.of(model)
    assert other.size == 256 and torch.equal(other.mean.flatten(), torch.full((3,), 0.5))
    model.visual.preprocess_cfg = {**model.visual.preprocess_cfg, 'size': (224, 320)}
    with pytest.raises(ValueError, match='square'):
        ClipInput.of(model)


def test_normalize_moves_with_the_network_and_stays_out_of_checkpoints():
    net = torch.nn.Sequential(ClipInput())
    assert net.state_dict() == {}
    net.to(torch.float64)
    x = torch.rand(2, 3, 224, 224, dtype=torch.float64)
    expected = (x - torch.tensor(CLIP_MEAN, dtype=torch.float64).view(1, 3, 1, 1)) \
        / torch.tensor(CLIP_STD, dtype=torch.float64).view(1, 3, 1, 1)
    assert net(x).dtype == torch.float64
    assert torch.allclose(net(x), expected, atol=1e-6)
