"""One image reader for the whole package: modes, bit depths, alpha, damage."""
import numpy as np
import pytest
from PIL import Image, ImageFile

from pyiqa_uniqa.data.images import UnreadableImageError, open_rgb, to_float_tensor


def test_open_rgb_handles_alpha_16_bit_grayscale_and_damage(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200  # red, fully transparent: shown on white
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'rgba.png')
    assert np.asarray(open_rgb(tmp_path / 'rgba.png'))[0, 0].tolist() == [255, 255, 255]
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / 'deep.png')
    assert np.asarray(open_rgb(tmp_path / 'deep.png'))[0, 0].tolist() == [255, 255, 255]
    Image.fromarray(np.full((4, 4), 30, np.uint8), 'L').save(tmp_path / 'gray.png')
    assert open_rgb(tmp_path / 'gray.png').mode == 'RGB'
    Image.fromarray(np.zeros((300, 600, 3), np.uint8)).save(tmp_path / 'big.png')
    assert open_rgb(tmp_path / 'big.png', max_side=100).size == (100, 50)
    (tmp_path / 'bad.jpg').write_bytes(b'\xff\xd8\xff not really')
    with pytest.raises(UnreadableImageError, match='Cannot read image .*bad.jpg'):
        open_rgb(tmp_path / 'bad.jpg')


def test_truncated_file_fails_even_when_pil_was_told_to_pad_it(tmp_path, monkeypatch):
    # what importing pyiqa's AVA dataset module does to the whole process
    monkeypatch.setattr(ImageFile, 'LOAD_TRUNCATED_IMAGES', True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / 'ok.png')
    data = (tmp_path / 'ok.png').read_bytes()
    (tmp_path / 'cut.png').write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImageError, match='cut.png'):
        open_rgb(tmp_path / 'cut.png')
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is restored
    assert to_float_tensor(open_rgb(tmp_path / 'ok.png')).shape == (3, 64, 64)


def test_missing_file_is_not_reported_as_damage(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_rgb(tmp_path / 'nope.png')


def test_three_channels_for_tensors():
    import torch

    from pyiqa_uniqa.data.images import three_channels
    gray, rgba = torch.rand(2, 1, 5, 6), torch.rand(2, 4, 5, 6)
    assert torch.equal(three_channels(gray), gray.expand(-1, 3, -1, -1))
    assert torch.equal(three_channels(rgba), rgba[:, :3])
    rgb = torch.rand(2, 3, 5, 6)
    assert three_channels(rgb) is rgb
    for bad in (torch.rand(2, 2, 5, 6), torch.rand(3, 5, 6)):
        with pytest.raises(ValueError, match='1, 3 or 4 channels'):
            three_channels(bad)
