"""Image input for DepictQA: reading any user image, and the official "retain resolution" rule.

The official preprocessing never upsamples: an image is scaled down (aspect kept, bicubic) only
when its short side reaches ``resize`` or its long side reaches ``max_size``, by
``min(resize / short, max_size / long)``. It is then zero-padded (centred) to a multiple of the
patch size, at least ``min_size`` per side, and normalised with the CLIP mean/std. Each image
therefore gives (H/patch)*(W/patch) visual tokens; the caps bound that number for any input.

The official code resizes the 8-bit PIL image with PIL's bicubic filter, which rounds and clips
to 8 bits after each of its two passes. Images whose values are 8-bit levels (files, PIL images,
and the tensors pyiqa's loader and ``ToTensor`` make: k / 255) are resized exactly that way, so
they get the official pixels. Any other tensor (16-bit or computed values, or one that needs a
gradient, as with ``as_loss=True``) is resized in float with torch's antialiased bicubic, which is
differentiable and equals PIL's float-mode bicubic; it differs from the 8-bit result by up to a
few 1/255 (5/255 measured on scikit-image's astronaut at 224 px).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from pyiqa_uniqa.data.images import UnreadableImageError, image_to_tensor, three_channels


def load_image(source):
    """A float tensor [3, H, W] in [0, 1] from a path, PIL image, numpy array or tensor.

    Everything but tensors goes through the package's one reader (``data.images.read_image``:
    any mode to 8-bit RGB, 16-bit and float scaled by depth, transparency on white, damaged files
    named); tensors keep their values, with the reader's channel rule (``three_channels``).
    """
    if not torch.is_tensor(source):
        return image_to_tensor(source)
    tensor = source[None] if source.dim() == 2 else source
    if tensor.dim() != 3:
        raise UnreadableImageError(f'expected an image tensor [C, H, W], got shape {tuple(source.shape)}')
    try:
        return three_channels(tensor.float()[None])[0]
    except ValueError as err:
        raise UnreadableImageError(str(err)) from None


def retained_size(height, width, settings):
    """(H, W) after the official downscale-only rule."""
    short, long = min(height, width), max(height, width)
    if short >= settings.resize or long >= settings.max_size:
        scale = min(settings.resize / short, settings.max_size / long)
        height, width = max(1, round(height * scale)), max(1, round(width * scale))
    return height, width


def downscale(images, settings):
    """[B, 3, H, W] in [0, 1] scaled down by the retain-resolution rule (never upsampled)."""
    height, width = retained_size(images.shape[-2], images.shape[-1], settings)
    if (height, width) == tuple(images.shape[-2:]):
        return images
    if holds_8bit_levels(images):
        return _pil_bicubic(images, height, width)
    return F.interpolate(images, size=(height, width), mode='bicubic', align_corners=False,
                         antialias=True).clamp(0, 1)


def holds_8bit_levels(images):
    """Whether every value is k / 255 (and no gradient is needed): the 8-bit resize applies."""
    return not images.requires_grad and torch.equal((images * 255).round() / 255, images)


def _pil_bicubic(images, height, width):
    """The official resize: PIL bicubic on the uint8 image."""
    resized = []
    for image in images:
        array = (image * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        resized.append(torch.from_numpy(np.array(Image.fromarray(array).resize((width, height), Image.BICUBIC))))
    return torch.stack(resized).permute(0, 3, 1, 2).to(images.device, images.dtype) / 255


def pad_to_patches(images, patch_size, min_size):
    """Zero-pad [B, 3, H, W] (centred, in [0, 1] space, as torchvision's center_crop does)."""
    height, width = images.shape[-2:]
    target_h = max(_round_up(height, patch_size), _round_up(min_size, patch_size))
    target_w = max(_round_up(width, patch_size), _round_up(min_size, patch_size))
    top, left = (target_h - height) // 2, (target_w - width) // 2
    return F.pad(images, (left, target_w - width - left, top, target_h - height - top))


def _round_up(value, multiple):
    return int(math.ceil(value / multiple) * multiple)


def prepare_pixels(images, settings, patch_size, clip_input):
    """[B, C, H, W] in [0, 1] -> pixels ready for the vision encoder, normalised by ``clip_input``
    (a ``ClipInput``: OpenAI CLIP's mean/std, as the official ``CustomTransform``)."""
    if images.dim() != 4:
        raise UnreadableImageError(f'expected a batch [B, C, H, W], got shape {tuple(images.shape)}')
    try:
        images = three_channels(images)
    except ValueError as err:
        raise UnreadableImageError(str(err)) from None
    images = pad_to_patches(downscale(images.float(), settings), patch_size, settings.min_size)
    return clip_input.normalize(images)


def random_centre_crop(image, ratio_range, min_size, generator):
    """The official training crop of [3, H, W]: a centred crop, a ratio drawn per axis from U(lo, hi).

    As the official: only when the short side exceeds ``min_size``; each ratio is raised to at least
    min_size / short side (one floor for both axes, so the short side never drops below min_size);
    sizes and offsets are rounded with Python's ``round``, as torchvision's ``center_crop``.
    """
    height, width = image.shape[-2:]
    if min(height, width) <= min_size:
        return image
    low, high = ratio_range
    draws = (low + (high - low) * torch.rand(2, generator=generator)).tolist()
    crop_h, crop_w = training_crop_size(height, width, draws, min_size)
    top, left = round((height - crop_h) / 2.0), round((width - crop_w) / 2.0)
    return image[:, top:top + crop_h, left:left + crop_w]


def training_crop_size(height, width, draws, min_size):
    """(crop height, crop width) for the two ratio draws (height first, as the official)."""
    lowest = min_size / min(height, width)
    return round(height * max(draws[0], lowest)), round(width * max(draws[1], lowest))
