"""The one image reader: a path, a PIL image or a numpy array becomes 8-bit RGB by one rule.

The rule, the same for a file, a PIL image and an array:

- grayscale, palette, CMYK, YCbCr... become RGB (PIL's conversions);
- 16-bit data is scaled by 65535 (PIL's own ``convert`` clips it at 255); float data is read as
  [0, 1] (the convention of scikit-image and torchvision) and refused outside it; 32-bit integer
  data (PIL mode ``I``) states no depth: 8-bit when every value fits 0..255, else 16-bit;
- transparent pixels are put on white, what an image viewer shows (PIL's ``alpha_composite``);
- EXIF orientation is not applied: pyiqa and the official model code score pixels in file order.

Files fail loudly. A truncated or undecodable file raises ``UnreadableImageError`` naming it,
also after pyiqa's AVA dataset module has switched PIL's global ``LOAD_TRUNCATED_IMAGES`` on (it
does so on import, and pyiqa imports every dataset module when a lookup misses), after which PIL
would pad a damaged file with grey and say nothing: ``strict_decoding`` switches that off while
we decode. An image of more than ``max_pixels`` pixels is refused from its header, before any
decoding; the default, ``MAX_PIXELS`` = 2**28 (16384 x 16384), admits the 200-megapixel frames
of current phone sensors and stops the files no camera makes (decompression bombs) before they
take gigabytes. PIL's own bomb check is off while we decode: this limit replaces it.

Tensors reach networks through ``three_channels``, the same rule on the tensor side.
"""
import contextlib
import io
import os

import numpy as np
import torch
from PIL import Image, ImageFile

from pyiqa_uniqa.errors import UserError

MAX_PIXELS = 2 ** 28
_ALPHA_MODES = ('RGBA', 'LA', 'PA', 'RGBa', 'La')


class UnreadableImageError(UserError, OSError, ValueError):
    """An input that cannot be read as an image: a damaged file, an absurd size, a bad array.

    A user's mistake to fix, an OSError like PIL's own decoding errors, and a ValueError: the input is bad.
    """


@contextlib.contextmanager
def strict_decoding():
    """Decode with PIL's truncated-image padding and its decompression-bomb check off (see the
    module doc); the caller's settings are restored on exit."""
    truncated, bomb_limit = ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = False, None
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = truncated, bomb_limit


def open_image(path, max_pixels=MAX_PIXELS, draft_size=None):
    """The decoded PIL image of the file at ``path``, in the file's own mode.

    ``draft_size`` lets a JPEG decode at a reduced scale that is still at least that size (cheap
    for huge photos). A missing file raises FileNotFoundError; a folder, a damaged file or one of
    more than ``max_pixels`` pixels (None: no limit) raises UnreadableImageError.
    """
    if isinstance(path, (str, os.PathLike)) and os.path.isdir(path):
        raise UnreadableImageError(f'Cannot read image {path}: it is a folder, not an image file.')
    with strict_decoding():
        try:
            image = Image.open(path)
            check_pixel_count(image.width, image.height, max_pixels, path)
            if draft_size and image.format == 'JPEG':
                image.draft('RGB', (draft_size, draft_size))
            image.load()
        except (FileNotFoundError, UnreadableImageError):
            raise
        except Exception as err:  # noqa: BLE001 - PIL fails in many ways on damaged files
            raise UnreadableImageError(f'Cannot read image {path}: {err.__class__.__name__}: {err}') from err
    return image


def check_pixel_count(width, height, max_pixels, name):
    if width < 1 or height < 1:
        raise UnreadableImageError(f'Cannot read image {name}: it is empty ({width}x{height} pixels).')
    if max_pixels is not None and width * height > max_pixels:
        raise UnreadableImageError(
            f'Cannot read image {name}: {width}x{height} is {width * height:,} pixels, more than the '
            f'{max_pixels:,} allowed (max_pixels); downscale it first, or raise max_pixels if it is genuine.')


def read_image(source, max_pixels=MAX_PIXELS, draft_size=None, max_side=None):
    """An 8-bit RGB PIL image from a path, a file's bytes, a PIL image or a numpy array, by the
    module's rule.

    Arrays are HxW, HxWx1, HxWx3 or HxWx4 (RGBA), of uint8, uint16, bool, float in [0, 1] or
    other integers (see the module doc). ``max_side`` shrinks the result (bicubic) so its longer
    side is at most that; ``draft_size`` is ``open_image``'s.
    """
    if isinstance(source, Image.Image):
        check_pixel_count(source.width, source.height, max_pixels, _describe(source))
        image = _from_pil(source, _describe(source))
    elif isinstance(source, np.ndarray):
        image = _from_array(source, max_pixels)
    elif isinstance(source, (str, os.PathLike)):
        image = _from_pil(open_image(source, max_pixels, draft_size), source)
    elif isinstance(source, bytes):  # a file's contents, as pyiqa accepts them
        image = _from_pil(open_image(io.BytesIO(source), max_pixels, draft_size), 'image bytes')
    else:
        raise TypeError(f'Cannot read an image from {type(source).__name__}: give a path, a PIL image '
                        'or a numpy array (tensors go to the network as they are).')
    if max_side and max(image.size) > max_side:
        if image is source:  # the caller's own RGB image: thumbnail() would shrink it in place
            image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    return image


def image_to_tensor(source, **read_options):
    """[3, H, W] float32 in [0, 1] from anything ``read_image`` takes."""
    array = np.asarray(read_image(source, **read_options), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def three_channels(images):
    """[B, 3, H, W] from a [B, C, H, W] tensor in [0, 1], by the reader's rule.

    One channel is grayscale, repeated. Four channels are RGBA with straight (not premultiplied)
    alpha, put on white like a transparent file: ``rgb * alpha + (1 - alpha)``. Differentiable, so
    the same rule holds for a metric used as a loss.
    """
    channels = images.shape[1] if images.ndim == 4 else None
    if channels == 3:
        return images
    if channels == 1:
        return images.expand(-1, 3, -1, -1)
    if channels == 4:
        alpha = images[:, 3:]
        return images[:, :3] * alpha + (1 - alpha)
    raise ValueError(f'expected images [B, C, H, W] with 1, 3 or 4 channels, got shape {tuple(images.shape)}')


def _from_pil(image, name):
    if image.mode == 'RGB':
        return image
    if image.mode.startswith('I') or image.mode == 'F':  # more than 8 bits: the array rule scales them
        return _from_array(np.asarray(image), None, name)
    try:
        if image.mode in _ALPHA_MODES or (image.mode == 'P' and 'transparency' in image.info):
            rgba = image.convert('RGBA')
            return Image.alpha_composite(Image.new('RGBA', rgba.size, (255, 255, 255, 255)), rgba).convert('RGB')
        return image.convert('RGB')
    except (ValueError, OSError) as err:  # a mode PIL cannot convert (e.g. LAB)
        raise UnreadableImageError(f'Cannot read image {name}: mode {image.mode}: {err}') from err


def _from_array(array, max_pixels, name=None):
    name = name or f'array of shape {array.shape} and dtype {array.dtype}'
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise UnreadableImageError(f'Cannot read an image from {name}: expected HxW, HxWx1, HxWx3 or HxWx4.')
    check_pixel_count(array.shape[1], array.shape[0], max_pixels, name)
    array = _to_uint8(array, name)
    return _from_pil(Image.fromarray(np.ascontiguousarray(array)), name)  # L, RGB or RGBA


def _to_uint8(array, name):
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise UnreadableImageError(f'Cannot read an image from {name}: it holds NaN or infinite values.')
        low, high = float(array.min()), float(array.max())
        if low < -1e-3 or high > 1 + 1e-3:
            raise UnreadableImageError(
                f'Cannot read an image from {name}: float images are read as [0, 1], its values span '
                f'[{low:.4g}, {high:.4g}]' + ('; divide 0-255 data by 255.' if high > 1 else '.'))
        scale = 1.0
    elif np.issubdtype(array.dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 65535:
            raise UnreadableImageError(f'Cannot read an image from {name}: integer values span [{low}, {high}], '
                                       'outside 16 bits.')
        sixteen_bit = array.dtype.kind == 'u' and array.dtype.itemsize == 2  # any byte order
        scale = 65535.0 if sixteen_bit or high > 255 else 255.0
    else:
        raise UnreadableImageError(f'Cannot read an image from {name}: unsupported dtype {array.dtype}.')
    return np.clip(array.astype(np.float64) / scale * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _describe(source):
    return getattr(source, 'filename', '') or f'PIL image ({source.mode}, {source.width}x{source.height})'
