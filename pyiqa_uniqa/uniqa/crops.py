"""Test-time crops for UniQA: which square crops of an image get scored, and how they are averaged.

The official protocol scores ten random 224x224 crops and averages them, drawing the offsets
with an unseeded ``torch.randint``, so a score changes from run to run. Here the offsets come
from a generator seeded with ``(seed, height, width)``: an image always gets the same crops,
whatever else is in its batch and however often it is scored. ``five`` is the official
centre-plus-corners variant. All images of a batch share one tensor size, hence one set of
offsets, so every crop of every image goes through the encoder in a single batch.

Images smaller than the crop on either side are upscaled (bilinear, aspect ratio kept) until the
short side equals the crop size, instead of failing as the official code does. At test time only
the crops of that upscaled image are computed (``grid_sample`` at the same source points as
``interpolate``), never the whole of it: a 2x65535 strip would upscale to 224x7.3M pixels, 20 GB
of floats, for ten 224x224 crops. Crops at the same
offset (e.g. an image exactly the crop size) are encoded once and stand for every view that drew
them, which leaves the mean unchanged.
"""
import zlib

import torch
import torch.nn.functional as F

from pyiqa_uniqa.errors import UnknownNameError

CROP_MODES = ('random', 'five')


def fit_to_crop(images, crop_size):
    """Upscale ``images`` [B, C, H, W] whose short side is below ``crop_size`` (see module doc)."""
    size = fitted_size(*images.shape[-2:], crop_size)
    if size == tuple(images.shape[-2:]):
        return images
    return F.interpolate(images, size=size, mode='bilinear', align_corners=False)


def random_crop_offsets(height, width, crop_size, num_crops, seed=0):
    """``num_crops`` (top, left) offsets, reproducible for a given seed and image size."""
    generator = torch.Generator().manual_seed(zlib.crc32(f'{seed}:{height}x{width}'.encode()))
    tops = torch.randint(0, height - crop_size + 1, (num_crops,), generator=generator)
    lefts = torch.randint(0, width - crop_size + 1, (num_crops,), generator=generator)
    return list(zip(tops.tolist(), lefts.tolist()))


def five_crop_offsets(height, width, crop_size):
    """Centre, top-left, top-right, bottom-left, bottom-right (the official order)."""
    bottom, right = height - crop_size, width - crop_size
    return [(bottom // 2, right // 2), (0, 0), (0, right), (bottom, 0), (bottom, right)]


def crop_offsets(height, width, crop_size, mode='random', num_crops=10, seed=0):
    if mode == 'random':
        return random_crop_offsets(height, width, crop_size, num_crops, seed)
    if mode == 'five':
        return five_crop_offsets(height, width, crop_size)
    raise UnknownNameError(f'Unknown test crop mode {mode!r}; choose one of {CROP_MODES}.')


def view_crops(images, crop_size, mode='random', num_crops=10, seed=0):
    """The test-time views of ``images`` [B, 3, H, W] (upscaled first if smaller than the crop).

    Returns ``(crops, views)``: the distinct crops, offset-major ([U*B, 3, crop, crop]: every image
    at the first distinct offset, then at the next...), and ``views`` [V], the distinct crop of each
    of the V views (V = ``num_crops`` for ``random``, 5 for ``five``, repeats included).
    """
    size = fitted_size(*images.shape[-2:], crop_size)
    offsets = crop_offsets(*size, crop_size, mode, num_crops, seed)
    distinct = list(dict.fromkeys(offsets))
    crops = torch.cat([fitted_crop(images, size, top, left, crop_size) for top, left in distinct])
    return crops, torch.tensor([distinct.index(offset) for offset in offsets])


def fitted_crop(images, size, top, left, crop_size):
    """The ``crop_size`` crop at (top, left) of ``images`` upscaled to ``size`` (``fit_to_crop``), computed
    from the source pixels alone: bilinear ``grid_sample`` at the points ``interpolate`` samples."""
    if tuple(size) == tuple(images.shape[-2:]):
        return images[:, :, top:top + crop_size, left:left + crop_size]
    steps = torch.arange(crop_size, dtype=images.dtype, device=images.device) + 0.5
    # align_corners=False: output pixel i of n samples the normalised source point 2 (i + 0.5) / n - 1
    ys, xs = (2 * (steps + top) / size[0] - 1), (2 * (steps + left) / size[1] - 1)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing='xy'), dim=-1).expand(len(images), -1, -1, -1)
    return F.grid_sample(images, grid, mode='bilinear', padding_mode='border', align_corners=False)


def fitted_size(height, width, crop_size):
    """(height, width) of an image after ``fit_to_crop``."""
    short = min(height, width)
    if short >= crop_size:
        return height, width
    scale = crop_size / short
    return max(crop_size, round(height * scale)), max(crop_size, round(width * scale))


def per_view(values, views, batch_size):
    """Values of the distinct crops [U*B, ...] -> one row per view [B, V, ...] (repeats included), so
    that a plain mean over views weighs a crop by how often it was drawn."""
    return values.reshape(-1, batch_size, *values.shape[1:])[views.to(values.device)].transpose(0, 1)
