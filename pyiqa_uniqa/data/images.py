"""Reading image files one way everywhere: any mode to RGB, 16-bit scaled, damage reported.

Grayscale, palette, CMYK, 16-bit and float files are converted to 8-bit RGB; transparent pixels
are put on white (what a viewer shows); 16-bit and float images are scaled by their bit depth
rather than clipped.

A truncated file must stay an error. pyiqa's AVA dataset module turns on PIL's global
``LOAD_TRUNCATED_IMAGES`` when it is imported (and pyiqa imports every dataset module when a
lookup misses), after which PIL pads a damaged file with grey and says nothing; reading under
``strict_decoding`` switches that off for the duration.
"""
import contextlib

import numpy as np

_SIXTEEN_BIT = ('I;16', 'I;16B', 'I;16L')


class UnreadableImageError(OSError, ValueError):
    """A file that exists but cannot be decoded as an image (an OSError like PIL's own errors,
    and a ValueError: the input is bad)."""


@contextlib.contextmanager
def strict_decoding():
    from PIL import ImageFile
    allowed = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = allowed


def open_rgb(path, draft_size=None, max_side=None):
    """A PIL RGB image of the file at ``path``.

    ``draft_size`` lets a JPEG decode at a reduced scale that is still at least that size (cheap
    for huge photos); ``max_side`` then shrinks the result so its longer side is at most that.
    A missing file raises FileNotFoundError, anything undecodable UnreadableImageError.
    """
    from PIL import Image
    with strict_decoding():
        try:
            image = Image.open(path)
            if draft_size and image.format == 'JPEG':
                image.draft('RGB', (draft_size, draft_size))
            image.load()
        except FileNotFoundError:
            raise
        except Exception as err:  # noqa: BLE001 - PIL fails in many ways on damaged files
            raise UnreadableImageError(f'Cannot read image {path}: {err.__class__.__name__}: {err}') from err
    if image.width < 1 or image.height < 1:
        raise UnreadableImageError(f'Cannot read image {path}: it is empty ({image.size}).')
    image = to_rgb(image)
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.BICUBIC)
    return image


def to_rgb(image):
    """8-bit RGB from a PIL image of any mode (see the module doc)."""
    from PIL import Image
    if image.mode in _SIXTEEN_BIT + ('I', 'F'):
        array = np.asarray(image, dtype=np.float64)
        scale = 65535.0 if image.mode in _SIXTEEN_BIT or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / scale * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if image.mode in ('RGBA', 'LA', 'PA') or (image.mode == 'P' and 'transparency' in image.info):
        rgba = image.convert('RGBA')
        image = Image.alpha_composite(Image.new('RGBA', rgba.size, (255, 255, 255, 255)), rgba)
    return image.convert('RGB')


def three_channels(images):
    """[B, 3, H, W] from a [B, C, H, W] tensor: grayscale replicated, RGBA's alpha dropped.

    The tensor-side twin of ``to_rgb``, for images that reach a network as tensors (pyiqa hands
    metrics whatever channels its reader or the caller produced).
    """
    channels = images.shape[1] if images.ndim == 4 else None
    if channels == 3:
        return images
    if channels == 1:
        return images.expand(-1, 3, -1, -1)
    if channels == 4:
        return images[:, :3]
    raise ValueError(f'expected images [B, C, H, W] with 1, 3 or 4 channels, got shape {tuple(images.shape)}')


def to_float_tensor(image):
    """[3, H, W] float32 in [0, 1] from a PIL RGB image."""
    import torch
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()
