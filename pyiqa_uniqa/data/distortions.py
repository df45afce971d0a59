"""Seeded synthetic distortions at five severity levels, built on kornia.

Every distortion is a ``DistortionSpec``: one parameter with a value per level (the table is data,
so the README and the tests read the same numbers the code applies). Level 1 is mild, level 5 is
severe, and the parameters move monotonically with the level. Random distortions (noise, motion
direction) draw from a ``torch.Generator`` seeded by ``seed``, on the CPU, so the result does not
depend on the device.

``ATTRIBUTE_EFFECTS`` records which of the five ATTIQA attributes a distortion moves and in which
direction; only the primary, intended effect is listed (noise also raises edge energy, for
instance, but it is not listed as a sharpness change), and JPEG and pixelation list none because
they remove detail while adding block edges. ``tests/data`` checks each listed effect with a simple
image statistic on real photos.

JPEG uses Pillow's real encoder: kornia's ``jpeg_codec_differentiable`` approximates rounding with
a smooth function, so its artefacts are not those of a real codec. Pixelation uses torch's area
and nearest resampling, for which kornia has no dedicated filter.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from kornia import enhance, filters

from pyiqa_uniqa.errors import InvalidInputError, InvalidOptionError, UnknownNameError

LEVELS = (1, 2, 3, 4, 5)
ATTRIBUTES = ('sharpness', 'brightness', 'contrast', 'colorfulness', 'noisiness')


@dataclass(frozen=True)
class DistortionSpec:
    name: str
    parameter: str  # what the per-level values mean
    values: tuple  # one value per level in LEVELS, mild -> severe
    apply: Callable  # (images [B,3,H,W] float32 in [0,1], value, generator) -> images
    description: str

    def value(self, level):
        return self.values[LEVELS.index(level)]


def _gaussian_blur(images, sigma, generator):
    radius = max(1, int(np.ceil(3 * sigma)))
    # replicate padding works for any image size (reflect needs the pad to be smaller than the image)
    return filters.gaussian_blur2d(images, 2 * radius + 1, (sigma, sigma), border_type='replicate')


def _motion_blur(images, kernel_size, generator):
    # one random direction per image, so a batch does not share a single streak orientation
    angle = (torch.rand(images.shape[0], generator=generator) * 180.0).to(images.device, images.dtype)
    direction = torch.zeros_like(angle)  # symmetric streak
    return filters.motion_blur(images, kernel_size, angle, direction, border_type='replicate')


def _gaussian_noise(images, sigma, generator):
    noise = torch.randn(images.shape, generator=generator) * sigma
    return images + noise.to(images.device)


def _impulse_noise(images, amount, generator):
    b, _, h, w = images.shape
    hit = torch.rand((b, 1, h, w), generator=generator) < amount
    salt = torch.rand((b, 1, h, w), generator=generator) < 0.5
    hit, salt = hit.to(images.device), salt.to(images.device)
    return torch.where(hit, salt.to(images.dtype).expand_as(images), images)


def _jpeg(images, quality, generator):
    from PIL import Image

    out = []
    for image in images:
        array = (image.permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format='JPEG', quality=int(quality))
        decoded = np.asarray(Image.open(buffer).convert('RGB'), dtype=np.float32) / 255.0
        out.append(torch.from_numpy(decoded).permute(2, 0, 1))
    return torch.stack(out).to(images.device)


def _gamma(images, gamma, generator):
    return enhance.adjust_gamma(images, gamma)


def _contrast(images, factor, generator):
    # blends every pixel with the image's mean grey level (factor < 1 flattens, > 1 stretches)
    return enhance.adjust_contrast_with_mean_subtraction(images, float(factor))


def _saturation(images, factor, generator):
    return enhance.adjust_saturation(images, float(factor))


def _pixelate(images, block, generator):
    h, w = images.shape[-2:]
    small = F.interpolate(images, size=(max(1, round(h / block)), max(1, round(w / block))), mode='area')
    return F.interpolate(small, size=(h, w), mode='nearest')


def _sharpen(images, amount, generator):
    # unsharp masking with a variable amount (kornia's unsharp_mask fixes the amount at 1)
    blurred = filters.gaussian_blur2d(images, 5, (1.0, 1.0), border_type='replicate')
    return images + amount * (images - blurred)


DISTORTIONS = {
    spec.name: spec
    for spec in (
        DistortionSpec('blur', 'gaussian sigma (px)', (0.8, 1.5, 2.5, 4.0, 6.0), _gaussian_blur,
                       'Gaussian blur (kornia.filters.gaussian_blur2d)'),
        DistortionSpec('motion_blur', 'kernel length (px)', (5, 9, 15, 21, 31), _motion_blur,
                       'linear motion blur at a seeded random angle (kornia.filters.motion_blur)'),
        DistortionSpec('noise', 'gaussian sigma (of [0,1])', (0.02, 0.04, 0.07, 0.11, 0.17), _gaussian_noise,
                       'additive white Gaussian noise, independent per channel'),
        DistortionSpec('impulse_noise', 'fraction of pixels hit', (0.005, 0.015, 0.03, 0.06, 0.1), _impulse_noise,
                       'salt-and-pepper noise'),
        DistortionSpec('jpeg', 'JPEG quality', (40, 25, 15, 9, 5), _jpeg,
                       'JPEG compression (Pillow encoder, 4:2:0 chroma)'),
        DistortionSpec('brighten', 'gamma', (0.8, 0.65, 0.5, 0.38, 0.28), _gamma,
                       'brightening by gamma < 1 (kornia.enhance.adjust_gamma)'),
        DistortionSpec('darken', 'gamma', (1.3, 1.7, 2.2, 2.9, 3.8), _gamma,
                       'darkening by gamma > 1 (kornia.enhance.adjust_gamma)'),
        DistortionSpec('contrast_low', 'contrast factor', (0.75, 0.55, 0.4, 0.28, 0.18), _contrast,
                       'contrast reduction towards the mean grey '
                       '(kornia.enhance.adjust_contrast_with_mean_subtraction)'),
        DistortionSpec('contrast_high', 'contrast factor', (1.3, 1.6, 2.0, 2.5, 3.2), _contrast,
                       'contrast stretch away from the mean grey, clipped'),
        DistortionSpec('saturation_low', 'saturation factor', (0.7, 0.5, 0.33, 0.18, 0.05), _saturation,
                       'colour fading towards grey (kornia.enhance.adjust_saturation)'),
        DistortionSpec('saturation_high', 'saturation factor', (1.5, 2.0, 2.8, 3.8, 5.0), _saturation,
                       'over-saturation, clipped (kornia.enhance.adjust_saturation)'),
        DistortionSpec('pixelate', 'block size (px)', (2, 3, 5, 8, 12), _pixelate,
                       'area downsampling by the block size, nearest upsampling back'),
        DistortionSpec('sharpen', 'unsharp-mask amount', (1.0, 2.0, 3.5, 5.0, 7.0), _sharpen,
                       'over-sharpening: unsharp mask (Gaussian sigma 1) with a growing amount'),
    )
}

# distortion -> {attribute: +1 raises it, -1 lowers it}; primary effects only (see module docstring)
ATTRIBUTE_EFFECTS = {
    'blur': {'sharpness': -1},
    'motion_blur': {'sharpness': -1},
    'noise': {'noisiness': +1},
    'impulse_noise': {'noisiness': +1},
    'jpeg': {},  # loses detail but adds block edges: no single attribute moves monotonically
    'brighten': {'brightness': +1},
    'darken': {'brightness': -1},
    'contrast_low': {'contrast': -1},
    'contrast_high': {'contrast': +1},
    'saturation_low': {'colorfulness': -1},
    'saturation_high': {'colorfulness': +1},
    'pixelate': {},  # same: fewer details, harder block edges
    'sharpen': {'sharpness': +1},
}


def _check_image(img):
    if not isinstance(img, torch.Tensor):
        raise TypeError(f'expected a torch.Tensor image, got {type(img).__name__}')
    if not img.is_floating_point():
        raise TypeError(f'expected a float tensor with values in [0, 1], got dtype {img.dtype}; '
                        'convert uint8 images with img.float() / 255')
    if img.dim() not in (3, 4) or img.shape[-3] != 3:
        raise InvalidInputError(f'expected an RGB image of shape [3, H, W] or [B, 3, H, W], got {tuple(img.shape)}')
    if img.numel() == 0:
        raise InvalidInputError(f'expected a non-empty image, got shape {tuple(img.shape)}')
    if not torch.isfinite(img).all():
        raise InvalidInputError('image contains NaN or infinite values')
    low, high = img.min().item(), img.max().item()
    if low < 0.0 or high > 1.0:
        raise InvalidInputError(f'expected values in [0, 1], got [{low:.4g}, {high:.4g}]'
                                + ('; divide 0-255 images by 255' if high > 1.0 else ''))


def apply_distortion(img, name, level, seed=0):
    """Distort ``img`` (float [3,H,W] or [B,3,H,W] in [0,1]) with ``name`` at ``level`` (1 mild .. 5 severe).

    Returns a tensor of the same shape, dtype and device, clamped to [0, 1]. The result is a
    deterministic function of (img, name, level, seed).
    """
    if name not in DISTORTIONS:
        raise UnknownNameError(f'unknown distortion {name!r}; available: {", ".join(DISTORTIONS)}')
    if isinstance(level, bool) or level not in LEVELS:
        raise InvalidOptionError(f'level must be one of {LEVELS}, got {level!r}')
    _check_image(img)

    spec = DISTORTIONS[name]
    batch = img.unsqueeze(0) if img.dim() == 3 else img
    generator = torch.Generator().manual_seed(int(seed))
    out = spec.apply(batch.float(), spec.value(level), generator).clamp(0.0, 1.0).to(img.dtype)
    return out[0] if img.dim() == 3 else out
