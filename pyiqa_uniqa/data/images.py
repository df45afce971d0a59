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
we decode. A JPEG cut short and given a new end marker decodes without an error in PIL (libjpeg
pads it with grey and only warns), so a JPEG's entropy-coded data is first run through
libjpeg-turbo (``simplejpeg``) at 1/8 scale with warnings as errors: cheap, and it finds the
premature end.

Before any pixel is decoded, three checks read the header (an image's decoding allocates its
whole size first, then finds out whether the data is there):

- ``max_pixels``: more than ``MAX_PIXELS`` = 2**28 (16384 x 16384) is refused; that admits the
  200-megapixel frames of current phone sensors and stops the files no camera makes. PIL's own
  bomb check is off while we decode: this limit replaces it.
- the file's size: a format's strongest compression bounds how many pixels one byte can hold
  (deflate 1032:1 in PNG and TIFF, LZW's 4096-long strings in GIF, raw BMP and TIFF rows), so a
  file too small for the pixels its header declares is truncated, and is refused as such;
- ``max_bytes``: the memory decoding and what follows will take, from the header: the pixels
  times the bytes of the file's own mode (16-bit and float data are 2 and 4 bytes a sample), of
  the RGB result, and of the caller's working copies (``work_bytes_per_pixel``: a metric's
  float tensors). The default, ``MAX_IMAGE_BYTES`` = 4 GiB, or ``$PYIQA_UNIQA_MAX_IMAGE_BYTES``.
  ``draft_size`` lets a JPEG decode at a reduced scale (PIL's ``draft``), and the bound is then
  that of the reduced image.

16-bit and float data are converted to 8 bits a band of rows at a time, so the conversion's
working copies stay small whatever the image's size.

Tensors reach networks through ``three_channels``, the same rule on the tensor side.
"""
import contextlib
import io
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile, ImageMode

from pyiqa_uniqa.errors import UserError

MAX_PIXELS = 2 ** 28
MAX_IMAGE_BYTES = 4 * 2 ** 30
MAX_IMAGE_BYTES_VARIABLE = 'PYIQA_UNIQA_MAX_IMAGE_BYTES'
RGB_BYTES = 4  # PIL keeps an RGB pixel in 4 bytes
TENSOR_BYTES = 24  # image_to_tensor: a float32 HxWx3 array, then its CxHxW copy
# the most pixels one byte of a file can describe at its format's strongest compression (at 1 bit a
# pixel); formats and compressions without such a bound (arithmetic coders, run lengths that skip
# rows, fax codes) are left to max_bytes
_DEFLATE, _LZW = 1032, 4096 / 12  # deflate's largest ratio; an LZW code of >= 12 bits for a 4096-long string
_MOST_PIXELS_PER_BYTE = {
    ('PNG', None): 8 * _DEFLATE,
    ('GIF', None): 8 * _LZW,  # one code per pixel index string, whatever the colour depth
    ('BMP', 'raw'): 8,
    ('TIFF', 'raw'): 8, ('TIFF', 'packbits'): 8 * 64, ('TIFF', 'tiff_lzw'): 8 * 8 * _LZW,
    ('TIFF', 'tiff_adobe_deflate'): 8 * _DEFLATE, ('TIFF', 'tiff_deflate'): 8 * _DEFLATE,
}
CHUNK_PIXELS = 2 ** 20  # rows converted to 8 bits at a time (see the module doc)
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


def max_image_bytes():
    """The default ``max_bytes``: ``$PYIQA_UNIQA_MAX_IMAGE_BYTES`` when set, else ``MAX_IMAGE_BYTES``."""
    value = os.environ.get(MAX_IMAGE_BYTES_VARIABLE, '').strip()
    if not value:
        return MAX_IMAGE_BYTES
    try:
        return int(float(value))
    except ValueError:
        raise UserError(f'${MAX_IMAGE_BYTES_VARIABLE} is {value!r}; set it to a number of bytes, '
                        'e.g. 8e9, or unset it.') from None


def open_image(path, max_pixels=MAX_PIXELS, draft_size=None, max_bytes=None, work_bytes_per_pixel=0):
    """The decoded PIL image of the file at ``path`` (or of a binary file object), in the file's own mode.

    ``draft_size`` lets a JPEG decode at a reduced scale that is still at least that size (cheap
    for huge photos). The header is checked before decoding (module doc): ``max_pixels`` (None: no
    limit), the file's size, and ``max_bytes`` (None: ``max_image_bytes()``) for the decoded image,
    its RGB copy and ``work_bytes_per_pixel`` more. A missing file raises FileNotFoundError; a
    folder, a damaged file or one over a limit raises UnreadableImageError.
    """
    if isinstance(path, (str, os.PathLike)) and os.path.isdir(path):
        raise UnreadableImageError(f'Cannot read image {path}: it is a folder, not an image file.')
    data = path.read() if hasattr(path, 'read') else _read_file(path)
    name = getattr(path, 'name', None) or ('image bytes' if hasattr(path, 'read') else path)
    with strict_decoding():
        try:
            image = Image.open(io.BytesIO(data))
            check_pixel_count(image.width, image.height, max_pixels, name)
            if image.mode in ('P', 'PA') and image.palette is None:  # e.g. a PNG whose PLTE precedes IHDR
                raise UnreadableImageError(f'Cannot read image {name}: it is a palette image without a valid '
                                           'palette (damaged or misordered), so its colours are unknown.')
            if image.format == 'JPEG':
                if draft_size:
                    image.draft('RGB', (draft_size, draft_size))
                check_jpeg_data(data, name)
            check_file_size(image, len(data), name)
            check_memory(image, max_image_bytes() if max_bytes is None else max_bytes, work_bytes_per_pixel, name)
            image.load()
        except UnreadableImageError:
            raise
        except Exception as err:  # noqa: BLE001 - PIL fails in many ways on damaged files
            raise UnreadableImageError(f'Cannot read image {name}: {err.__class__.__name__}: {err}') from err
    return image


def _read_file(path):
    try:
        return Path(path).read_bytes()
    except (FileNotFoundError, PermissionError):
        raise
    except (OSError, ValueError) as err:  # a name the system refuses (NUL byte, too long), a loop
        raise UnreadableImageError(f'Cannot read image {path!r}: {err.__class__.__name__}: {err}') from err


def check_pixel_count(width, height, max_pixels, name):
    if width < 1 or height < 1:
        raise UnreadableImageError(f'Cannot read image {name}: it is empty ({width}x{height} pixels).')
    if max_pixels is not None and width * height > max_pixels:
        raise UnreadableImageError(
            f'Cannot read image {name}: {width}x{height} is {width * height:,} pixels, more than the '
            f'{max_pixels:,} allowed (max_pixels); downscale it first, or raise max_pixels if it is genuine.')


def check_jpeg_data(data, name):
    """Refuse a JPEG whose entropy-coded data ends early, even when an end marker follows (module doc)."""
    import simplejpeg
    try:
        space = simplejpeg.decode_jpeg_header(data)[2]
        simplejpeg.decode_jpeg(data, colorspace='CMYK' if space in ('CMYK', 'YCCK') else 'GRAY', min_height=1,
                               min_width=1, strict=True)
    except ValueError as err:
        # other warnings (extra bytes between markers) are harmless: PIL decodes those files whole
        if 'premature end' in str(err):
            raise UnreadableImageError(f'Cannot read image {name}: it is truncated ({err}).') from None


def check_file_size(image, size, name):
    """Refuse a file too small to hold the pixels its header declares (module doc)."""
    compression = image.info.get('compression') if image.format == 'TIFF' else None
    if image.format == 'BMP':
        compression = 'raw' if image.tile and image.tile[0][0] == 'raw' else 'rle'
    most = _MOST_PIXELS_PER_BYTE.get((image.format, compression))
    if most is not None and size * most < image.width * image.height:
        raise UnreadableImageError(
            f'Cannot read image {name}: it is truncated: its header declares {image.width}x{image.height} pixels, '
            f'more than {size:,} bytes of {image.format} can hold.')


def _mode_bytes(mode):
    """Bytes PIL keeps a pixel of ``mode`` in: 1 for L and P, 2 for 16-bit, 4 for float, 32-bit and every
    multi-band 8-bit mode."""
    described = ImageMode.getmode(mode)
    return np.dtype(described.typestr).itemsize if len(described.bands) == 1 else 4


def check_memory(image, max_bytes, work_bytes_per_pixel, name):
    """Refuse an image whose decoding and conversion would take more than ``max_bytes`` (module doc)."""
    pixels = image.width * image.height
    needed = pixels * (_mode_bytes(image.mode) + RGB_BYTES + work_bytes_per_pixel)
    if max_bytes is not None and needed > max_bytes:
        raise UnreadableImageError(
            f'Cannot read image {name}: {image.width}x{image.height} {image.mode} pixels would take '
            f'{needed / 2 ** 30:.1f} GiB to decode and score, more than the {max_bytes / 2 ** 30:.1f} GiB allowed; '
            f'downscale it first, or raise the limit (${MAX_IMAGE_BYTES_VARIABLE}, in bytes) if this machine has '
            'the memory.')


def read_image(source, max_pixels=MAX_PIXELS, draft_size=None, max_side=None, max_bytes=None,
               work_bytes_per_pixel=0):
    """An 8-bit RGB PIL image from a path, a file's bytes, a PIL image or a numpy array, by the
    module's rule.

    Arrays are HxW, HxWx1, HxWx3 or HxWx4 (RGBA), of uint8, uint16, bool, float in [0, 1] or
    other integers (see the module doc). ``max_side`` shrinks the result (bicubic) so its longer
    side is at most that; ``draft_size``, ``max_bytes`` and ``work_bytes_per_pixel`` are ``open_image``'s.
    """
    if isinstance(source, Image.Image):
        check_pixel_count(source.width, source.height, max_pixels, _describe(source))
        image = _from_pil(source, _describe(source))
    elif isinstance(source, np.ndarray):
        image = _from_array(source, max_pixels)
    elif isinstance(source, (str, os.PathLike)):
        image = _from_pil(open_image(source, max_pixels, draft_size, max_bytes, work_bytes_per_pixel), source)
    elif isinstance(source, bytes):  # a file's contents, as pyiqa accepts them
        image = _from_pil(open_image(io.BytesIO(source), max_pixels, draft_size, max_bytes, work_bytes_per_pixel),
                          'image bytes')
    else:
        raise TypeError(f'Cannot read an image from {type(source).__name__}: give a path, a PIL image '
                        'or a numpy array (tensors go to the network as they are).')
    if max_side and max(image.size) > max_side:
        if image is source:  # the caller's own RGB image: thumbnail() would shrink it in place
            image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    return image


def image_to_tensor(source, **read_options):
    """[3, H, W] float32 in [0, 1] from anything ``read_image`` takes (its memory bound counting the tensor)."""
    read_options.setdefault('work_bytes_per_pixel', TENSOR_BYTES)
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
        if not _all_finite(array):
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
    result = np.empty(array.shape, np.uint8)
    for rows in _row_bands(array):  # float64 copies of a band at a time (module doc)
        result[rows] = np.clip(array[rows].astype(np.float64) / scale * 255.0 + 0.5, 0, 255)
    return result


def _row_bands(array):
    step = max(1, CHUNK_PIXELS // max(1, array[0].size if len(array) else 1))
    return [slice(top, top + step) for top in range(0, len(array), step)]


def _all_finite(array):
    return all(np.isfinite(array[rows]).all() for rows in _row_bands(array))


def _describe(source):
    return getattr(source, 'filename', '') or f'PIL image ({source.mode}, {source.width}x{source.height})'
