"""Image input for DepictQA: reading any user image, and the official "retain resolution" rule.

The official preprocessing never upsamples: an image is scaled down (aspect kept, bicubic) only
when its short side reaches ``resize`` or its long side reaches ``max_size``, by
``min(resize / short, max_size / long)``. It is then zero-padded (centred) to a multiple of the
patch size, at least ``min_size`` per side, and normalised with the CLIP mean/std. Each image
therefore gives (H/patch)*(W/patch) visual tokens; the caps bound that number for any input.
"""
import math

import numpy as np


class ImageInputError(ValueError):
    pass


def load_image(source):
    """A float tensor [3, H, W] in [0, 1] from a path, PIL image, numpy array or tensor.

    Grayscale is repeated to three channels, alpha is dropped, 16-bit and float arrays are scaled
    by their type's range. Anything unreadable raises ``ImageInputError`` naming the input.
    """
    import torch
    if torch.is_tensor(source):
        tensor = source.detach() if not source.requires_grad else source
        if tensor.dim() == 2:
            tensor = tensor[None]
        if tensor.dim() != 3:
            raise ImageInputError(f'expected an image tensor [C, H, W], got shape {tuple(source.shape)}')
        return _three_channels(tensor.float(), str(tuple(source.shape)))
    array = _read_array(source)
    if array.dtype == np.uint8:
        scaled = array.astype(np.float32) / 255.0
    elif array.dtype == np.uint16:
        scaled = array.astype(np.float32) / 65535.0
    elif np.issubdtype(array.dtype, np.floating):
        scaled = np.clip(array.astype(np.float32), 0.0, 1.0)
    else:  # int32 from PIL mode 'I' (16-bit PNG): values up to 65535
        scaled = np.clip(array.astype(np.float32) / 65535.0, 0.0, 1.0)
    if scaled.ndim == 2:
        scaled = scaled[:, :, None]
    if scaled.ndim != 3:
        raise ImageInputError(f'cannot read an image of shape {array.shape} from {_describe(source)}')
    return _three_channels(torch.from_numpy(np.ascontiguousarray(scaled)).permute(2, 0, 1),
                           _describe(source))


def _read_array(source):
    from PIL import Image

    from pyiqa_uniqa.data.images import read_image
    if isinstance(source, np.ndarray):
        return source
    if isinstance(source, Image.Image):
        image = source
    else:
        try:
            image = read_image(source)
        except OSError as err:  # missing or undecodable file
            raise ImageInputError(f'cannot read image {source}: {err}') from err
    if image.mode in ('P', 'PA', 'CMYK', 'YCbCr', 'LAB', 'HSV', '1'):
        image = image.convert('RGBA' if 'A' in image.mode or image.mode == 'P' else 'RGB')
    return np.asarray(image)


def _three_channels(tensor, name):
    channels = tensor.shape[0]
    if channels in (1, 2):  # gray, gray + alpha
        return tensor[:1].expand(3, -1, -1)
    if channels in (3, 4):  # RGB, RGBA
        return tensor[:3]
    raise ImageInputError(f'{name}: expected 1-4 channels, got {channels}')


def _describe(source):
    return source if isinstance(source, (str, bytes)) or hasattr(source, '__fspath__') else type(source).__name__


def retained_size(height, width, settings):
    """(H, W) after the official downscale-only rule."""
    short, long = min(height, width), max(height, width)
    if short >= settings.resize or long >= settings.max_size:
        scale = min(settings.resize / short, settings.max_size / long)
        height, width = max(1, round(height * scale)), max(1, round(width * scale))
    return height, width


def downscale(images, settings):
    """[B, 3, H, W] scaled down by the retain-resolution rule (differentiable; never upsamples)."""
    import torch.nn.functional as F
    height, width = retained_size(images.shape[-2], images.shape[-1], settings)
    if (height, width) == tuple(images.shape[-2:]):
        return images
    return F.interpolate(images, size=(height, width), mode='bicubic', align_corners=False,
                         antialias=True).clamp(0, 1)


def pad_to_patches(images, patch_size, min_size):
    """Zero-pad [B, 3, H, W] (centred, in [0, 1] space, as torchvision's center_crop does)."""
    import torch.nn.functional as F
    height, width = images.shape[-2:]
    target_h = max(_round_up(height, patch_size), _round_up(min_size, patch_size))
    target_w = max(_round_up(width, patch_size), _round_up(min_size, patch_size))
    top, left = (target_h - height) // 2, (target_w - width) // 2
    return F.pad(images, (left, target_w - width - left, top, target_h - height - top))


def _round_up(value, multiple):
    return int(math.ceil(value / multiple) * multiple)


def prepare_pixels(images, settings, patch_size):
    """[B, C, H, W] in [0, 1] -> normalised pixels ready for the vision encoder."""
    import torch
    if images.dim() != 4:
        raise ImageInputError(f'expected a batch [B, C, H, W], got shape {tuple(images.shape)}')
    from pyiqa_uniqa.data.images import three_channels
    try:
        images = three_channels(images)
    except ValueError as err:
        raise ImageInputError(str(err)) from None
    images = pad_to_patches(downscale(images.float(), settings), patch_size, settings.min_size)
    mean = torch.tensor(settings.mean, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(settings.std, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std


def random_centre_crop(image, ratio_range, min_size, generator):
    """Training augmentation of the official code: a centred crop, ratio U(lo, hi) per axis."""
    import torch
    _, height, width = image.shape
    low, high = ratio_range
    ratios = low + (high - low) * torch.rand(2, generator=generator)
    crop_h = min(height, max(min_size, int(height * ratios[0])))
    crop_w = min(width, max(min_size, int(width * ratios[1])))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return image[:, top:top + crop_h, left:left + crop_w]
