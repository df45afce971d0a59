"""One image reader for the whole package: modes, bit depths, alpha, damage, size limits."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from pyiqa_uniqa.data.images import (
    MAX_PIXELS,
    UnreadableImageError,
    image_to_tensor,
    read_image,
    three_channels,
)
from pyiqa_uniqa.testing.bad_images import png_header_only, write_bad_images


def test_read_image_handles_alpha_16_bit_grayscale_and_damage(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200  # red, fully transparent: shown on white
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'rgba.png')
    assert np.asarray(read_image(tmp_path / 'rgba.png'))[0, 0].tolist() == [255, 255, 255]
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / 'deep.png')
    assert np.asarray(read_image(tmp_path / 'deep.png'))[0, 0].tolist() == [255, 255, 255]
    Image.fromarray(np.full((4, 4), 30, np.uint8), 'L').save(tmp_path / 'gray.png')
    assert read_image(tmp_path / 'gray.png').mode == 'RGB'
    Image.fromarray(np.zeros((300, 600, 3), np.uint8)).save(tmp_path / 'big.png')
    assert read_image(tmp_path / 'big.png', max_side=100).size == (100, 50)
    given = Image.fromarray(np.zeros((300, 600, 3), np.uint8))
    assert read_image(given, max_side=100).size == (100, 50) and given.size == (600, 300)  # the caller's is kept
    (tmp_path / 'bad.jpg').write_bytes(b'\xff\xd8\xff not really')
    with pytest.raises(UnreadableImageError, match='Cannot read image .*bad.jpg'):
        read_image(tmp_path / 'bad.jpg')


def _half_transparent_rgba():
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = 200, 40, 10
    rgba[..., 3] = np.arange(8, dtype=np.uint8) * 36  # alpha from 0 to 252 across the width
    return rgba


def test_one_alpha_rule_for_a_path_a_pil_image_an_array_and_a_tensor(tmp_path):
    rgba = _half_transparent_rgba()
    Image.fromarray(rgba).save(tmp_path / 'rgba.png')
    from_path = np.asarray(read_image(tmp_path / 'rgba.png'))
    from_pil = np.asarray(read_image(Image.fromarray(rgba)))
    from_array = np.asarray(read_image(rgba))
    from_bytes = np.asarray(read_image((tmp_path / 'rgba.png').read_bytes()))
    assert np.array_equal(from_path, from_pil) and np.array_equal(from_path, from_array)
    assert np.array_equal(from_path, from_bytes)
    # on white: transparent pixels are white, opaque ones keep their colour, the rest in between
    assert from_path[0, 0].tolist() == [255, 255, 255]
    expected = rgba[..., :3] * (rgba[..., 3:] / 255.0) + 255 * (1 - rgba[..., 3:] / 255.0)
    assert np.abs(from_path.astype(float) - expected).max() <= 1.0
    # the tensor side composites the same way (up to 8-bit rounding)
    tensor = torch.from_numpy(rgba).permute(2, 0, 1)[None].float() / 255
    assert torch.allclose(three_channels(tensor)[0], image_to_tensor(rgba), atol=1 / 255 + 1e-6)


def test_sixteen_bit_and_float_are_scaled_by_their_depth_the_same_from_a_file_and_an_array(tmp_path):
    ramp16 = (np.arange(24, dtype=np.uint32).reshape(4, 6) * 2800).astype(np.uint16)
    Image.fromarray(ramp16).save(tmp_path / 'ramp16.png')
    expected = np.round(ramp16 / 65535 * 255).astype(np.uint8)
    from_file = np.asarray(read_image(tmp_path / 'ramp16.png'))[..., 0]
    assert np.array_equal(from_file, expected)  # PIL's convert('RGB') would clip these at 255
    assert np.array_equal(np.asarray(read_image(ramp16))[..., 0], expected)
    assert np.array_equal(np.asarray(read_image(ramp16[..., None]))[..., 0], expected)
    rgb16 = np.stack([ramp16] * 3, axis=-1)
    assert np.array_equal(np.asarray(read_image(rgb16)), np.stack([expected] * 3, axis=-1))
    as_float = ramp16.astype(np.float32) / 65535
    assert np.array_equal(np.asarray(read_image(as_float))[..., 0], expected)
    assert np.array_equal(np.asarray(read_image(Image.fromarray(as_float)))[..., 0], expected)  # mode F
    small_ints = np.full((3, 3), 200, np.int32)  # 32-bit data within 0..255 reads as 8-bit
    assert np.asarray(read_image(small_ints))[0, 0].tolist() == [200] * 3
    assert np.asarray(read_image(np.ones((3, 3), bool)))[0, 0].tolist() == [255] * 3


@pytest.mark.parametrize('array, message', [
    (np.full((4, 4, 3), 200.0, np.float32), r'read as \[0, 1\].*divide 0-255 data by 255'),
    (np.full((4, 4, 3), np.nan, np.float32), 'NaN or infinite'),
    (np.zeros((4, 4, 2), np.uint8), 'expected HxW, HxWx1, HxWx3 or HxWx4'),
    (np.zeros((2, 4, 4, 3), np.uint8), 'expected HxW'),
    (np.zeros((0, 4, 3), np.uint8), 'empty'),
    (np.full((4, 4), 70000, np.int32), 'outside 16 bits'),
    (np.zeros((4, 4), np.complex64), 'unsupported dtype'),
])
def test_bad_arrays_say_what_is_wrong(array, message):
    with pytest.raises(UnreadableImageError, match=message):
        read_image(array)


def test_other_types_are_refused():
    with pytest.raises(TypeError, match='give a path, a PIL image or a numpy array'):
        read_image(torch.zeros(3, 4, 4))


def test_cmyk_and_palette_become_rgb():
    cmyk = Image.new('CMYK', (3, 3), (0, 255, 255, 0))  # red
    assert np.asarray(read_image(cmyk))[0, 0].tolist() == [255, 0, 0]
    palette = Image.new('P', (3, 3), 0)
    palette.putpalette([10, 20, 30] * 256)
    assert np.asarray(read_image(palette))[0, 0].tolist() == [10, 20, 30]
    palette.info['transparency'] = 0  # palette entry 0 transparent: on white
    assert np.asarray(read_image(palette))[0, 0].tolist() == [255, 255, 255]


def test_truncated_file_fails_even_when_pil_was_told_to_pad_it(tmp_path, monkeypatch):
    # what importing pyiqa's AVA dataset module does to the whole process
    monkeypatch.setattr(ImageFile, 'LOAD_TRUNCATED_IMAGES', True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / 'ok.png')
    data = (tmp_path / 'ok.png').read_bytes()
    (tmp_path / 'cut.png').write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImageError, match='cut.png'):
        read_image(tmp_path / 'cut.png')
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is restored
    assert image_to_tensor(tmp_path / 'ok.png').shape == (3, 64, 64)


def test_unreadable_is_a_user_error_that_old_callers_still_catch():
    from pyiqa_uniqa.errors import UserError
    assert issubclass(UnreadableImageError, UserError)
    assert issubclass(UnreadableImageError, OSError) and issubclass(UnreadableImageError, ValueError)


def test_missing_file_is_not_reported_as_damage(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / 'nope.png')


def test_folder_and_empty_file_name_the_input(tmp_path):
    with pytest.raises(UnreadableImageError, match='is a folder'):
        read_image(tmp_path)
    (tmp_path / 'empty.png').write_bytes(b'')
    with pytest.raises(UnreadableImageError, match='empty.png'):
        read_image(tmp_path / 'empty.png')


def test_absurd_pixel_counts_are_refused_from_the_header(tmp_path):
    (tmp_path / 'bomb.png').write_bytes(png_header_only(40000, 40000))
    with pytest.raises(UnreadableImageError, match=r'bomb.png: 40000x40000 is 1,600,000,000 pixels.*max_pixels'):
        read_image(tmp_path / 'bomb.png')
    # the limit is ours, not PIL's (whose bomb check stops at 179M pixels): past the header, the
    # empty file is damage, and a caller's limit applies to every kind of source
    assert 179_000_000 < 15000 * 15000 < MAX_PIXELS
    (tmp_path / 'big.png').write_bytes(png_header_only(15000, 15000))
    with pytest.raises(UnreadableImageError, match='big.png: (?!.*max_pixels)'):
        read_image(tmp_path / 'big.png')
    with pytest.raises(UnreadableImageError, match='more than the 100 allowed'):
        read_image(np.zeros((20, 20, 3), np.uint8), max_pixels=100)
    assert read_image(np.zeros((20, 3000, 3), np.uint8)).size == (3000, 20)


def test_three_channels_for_tensors():
    gray, rgba = torch.rand(2, 1, 5, 6), torch.rand(2, 4, 5, 6)
    assert torch.equal(three_channels(gray), gray.expand(-1, 3, -1, -1))
    alpha = rgba[:, 3:]
    assert torch.equal(three_channels(rgba), rgba[:, :3] * alpha + (1 - alpha))
    opaque = torch.cat([rgba[:, :3], torch.ones(2, 1, 5, 6)], dim=1)
    assert torch.equal(three_channels(opaque), rgba[:, :3])  # opaque RGBA is its RGB
    rgb = torch.rand(2, 3, 5, 6)
    assert three_channels(rgb) is rgb
    for bad in (torch.rand(2, 2, 5, 6), torch.rand(3, 5, 6)):
        with pytest.raises(ValueError, match='1, 3 or 4 channels'):
            three_channels(bad)


def test_every_awkward_file_of_the_test_kit_reads_or_fails_naming_itself(tmp_path):
    paths = write_bad_images(tmp_path)
    for kind in ('rgb', 'grayscale', 'rgba', 'sixteen_bit', 'cmyk', 'one_pixel', 'thin'):
        image = read_image(paths[kind])
        assert image.mode == 'RGB' and image.size == Image.open(paths[kind]).size, kind
    for kind in ('truncated', 'empty', 'not_an_image', 'bomb'):
        with pytest.raises(UnreadableImageError, match=f'Cannot read image .*{kind}'):
            read_image(paths[kind])


def _tiff_claiming(width, height):
    """A small 16-bit TIFF whose header says ``width`` x ``height`` (little-endian, LONG or SHORT tags)."""
    import io
    import struct
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8), 1000, np.uint16)).save(buffer, 'TIFF')
    data = bytearray(buffer.getvalue())
    directory = struct.unpack('<I', data[4:8])[0]
    entries = struct.unpack('<H', data[directory:directory + 2])[0]
    for at in range(directory + 2, directory + 2 + 12 * entries, 12):
        tag, kind = struct.unpack('<HH', data[at:at + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength
            value = width if tag == 256 else height
            data[at + 8:at + 12] = struct.pack('<HH', value, 0) if kind == 3 else struct.pack('<I', value)
    return bytes(data)


@pytest.mark.parametrize('name, data', [
    ('claims.png', png_header_only(16384, 16384)),  # under the pixel limit; 805 MB if decoded
    ('claims.tif', _tiff_claiming(16000, 16000)),  # 16-bit: 512 MB before the conversion
])
def test_a_header_claiming_more_pixels_than_the_file_holds_is_refused_before_decoding(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(UnreadableImageError, match=rf'{name}: it is truncated: its header declares \d+x\d+ pixels, '
                                                   r'more than [\d,]+ bytes of (PNG|TIFF) can hold'):
        read_image(tmp_path / name)


def test_the_memory_bound_counts_the_files_mode_the_rgb_copy_and_the_callers_tensors(tmp_path, monkeypatch):
    Image.fromarray(np.full((100, 100), 1000, np.uint16)).save(tmp_path / 'deep.png')  # I;16: 2 bytes a pixel
    needed = 100 * 100 * (2 + 4)
    assert read_image(tmp_path / 'deep.png', max_bytes=needed).size == (100, 100)
    with pytest.raises(UnreadableImageError, match=r'deep.png: 100x100 I;16 pixels would take .* GiB to decode and '
                                                   r'score, more than the .* allowed; downscale it first, or raise the '
                                                   r'limit \(\$PYIQA_UNIQA_MAX_IMAGE_BYTES'):
        read_image(tmp_path / 'deep.png', max_bytes=needed - 1)
    monkeypatch.setenv('PYIQA_UNIQA_MAX_IMAGE_BYTES', str(needed + 100 * 100 * 24 - 1))
    assert read_image(tmp_path / 'deep.png').size == (100, 100)
    with pytest.raises(UnreadableImageError, match='would take'):  # the float tensor counts too
        image_to_tensor(tmp_path / 'deep.png')


def test_a_jpeg_cut_short_behind_a_new_end_marker_is_refused(tmp_path):
    import io

    from skimage import data
    for progressive in (False, True):
        buffer = io.BytesIO()
        Image.fromarray(data.astronaut()).save(buffer, 'JPEG', progressive=progressive)
        whole = buffer.getvalue()
        (tmp_path / 'cut.jpg').write_bytes(whole[:int(len(whole) * 0.6)] + b'\xff\xd9')
        with pytest.raises(UnreadableImageError, match='cut.jpg: it is truncated'):
            read_image(tmp_path / 'cut.jpg')
        assert read_image(whole).size == (512, 512)


def test_sixteen_bit_conversion_works_a_band_of_rows_at_a_time(monkeypatch):
    import pyiqa_uniqa.data.images as images
    monkeypatch.setattr(images, 'CHUNK_PIXELS', 7)  # a band is one row here: the result must not change
    array = (np.random.default_rng(0).random((5, 6, 3)) * 65535).astype(np.uint16)
    expected = np.clip(array / 65535 * 255 + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(np.asarray(read_image(array)), expected)
