"""Rendering distorted versions of a photo, reproducibly: seed, resize, distort, encode.

Shared by every builder of synthetic data (the photo-distortion datasets, DepictQA's training
records), so that the same photo, distortion, level and seed give the same pixels in each:

- ``stable_seed``: a seed from any parts (seed, photo, ...), stable across runs and Python versions
  (``hash()`` is salted per process); ``distortion_seed``: the one of (photo, distortion, level);
- ``resize_short_side``: Lanczos to a short side, optionally downscale-only;
- ``render_distortions``: one or several distortions applied in order, each with its own seed;
- ``encode_png``: PNG bytes at zlib level 1 (a third of the default's encoding time, which
  dominates a build, for 10% larger files).
"""
import io
import zlib

import numpy as np
import torch
from PIL import Image

from pyiqa_uniqa.data.distortions import apply_distortion


def stable_seed(*parts):
    return zlib.crc32('/'.join(str(part) for part in parts).encode())


def distortion_seed(seed, photo, distortion, level):
    return stable_seed(seed, photo, distortion, level)


def resize_short_side(array, size, upscale=True):
    """uint8 HxWx3 with the short side at ``size`` (Lanczos); None keeps the size; with
    ``upscale=False`` only larger images change."""
    height, width = array.shape[:2]
    if size is None or (not upscale and min(height, width) <= size):
        return array
    scale = size / min(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.array(Image.fromarray(array).resize(new_size, Image.Resampling.LANCZOS))


def render_distortions(array, distortions, seed, photo):
    """uint8 HxWx3 with each ``(name, level)`` of ``distortions`` applied in order (none: a copy),
    each seeded by ``distortion_seed(seed, photo, name, level)``."""
    image = torch.from_numpy(np.array(array)).permute(2, 0, 1).float() / 255.0
    for name, level in distortions:
        image = apply_distortion(image, name, level, seed=distortion_seed(seed, photo, name, level))
    return (image.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)


def encode_png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format='PNG', compress_level=1)
    return buffer.getvalue()
