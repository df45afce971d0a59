"""Probe sets for prompt selection: images with a known order per attribute.

A probe is a stack of images plus, per attribute, "sweeps": (image indices, expected values).
A prompt pair is scored by the SRCC between its CLIP score and the expected values inside each
sweep, averaged over sweeps. Keeping the SRCC within a sweep matters for the synthetic probe:
one photo is naturally darker than another, so only levels of the same photo are comparable.

- synthetic: each scikit-image photo (resized to CLIP's input size first, so the distortion is
  seen at the scale CLIP sees it) plus every distortion of the data kit that moves the attribute,
  at levels 1..5; expected value = direction x level (0 for the clean photo).
- labelled: a CSV with an image column and columns named after attributes (e.g. SPAQ's
  per-attribute scores); one sweep over all rows per attribute column.
"""
from dataclasses import dataclass, field

import numpy as np
import torch

from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES, check_attribute_names


@dataclass
class ProbeSet:
    images: torch.Tensor  # [N, 3, H, W] in [0, 1]
    sweeps: dict = field(default_factory=dict)  # attribute -> [(indices ndarray, expected ndarray)]
    description: str = ''


def synthetic_probe(size=224, photos=None, seed=0):
    from pyiqa_uniqa.backbones.clip_input import resize_center_crop
    from pyiqa_uniqa.data.distortions import ATTRIBUTE_EFFECTS, LEVELS, apply_distortion
    from pyiqa_uniqa.data.photos import load_photos

    photo_list = load_photos(photos)
    # all photos at once per (distortion, level): the distortions are batched ops
    clean = torch.stack([resize_center_crop(torch.from_numpy(array).permute(2, 0, 1).float().unsqueeze(0) / 255.0,
                                            size)[0] for _, array in photo_list])
    count = len(clean)
    images, sweeps = [clean], {name: [] for name in ATTRIBUTES}
    moving = [(d, effects) for d, effects in ATTRIBUTE_EFFECTS.items() if effects]
    for distortion, effects in moving:
        first = count * len(images)  # index of this distortion's level-1 image of photo 0
        images.extend(apply_distortion(clean, distortion, level, seed=seed) for level in LEVELS)
        for photo in range(count):
            indices = np.array([photo] + [first + count * i + photo for i in range(len(LEVELS))])
            for attribute, direction in effects.items():
                sweeps[attribute].append((indices, np.array([0, *LEVELS], dtype=np.float64) * direction))
    images = torch.cat(images)
    description = (f'synthetic: {count} photos x {len(moving)} distortions x {len(LEVELS)} levels '
                   f'({len(images)} images at {size}px)')
    return ProbeSet(images, {k: v for k, v in sweeps.items() if v}, description)


def labelled_probe(csv_path, image_root=None, size=224):
    """Probe from a CSV: first column image path, other columns named after attributes."""
    import pandas as pd

    from pyiqa_uniqa.attiqa.image_sources import list_images, read_rgb
    from pyiqa_uniqa.backbones.clip_input import resize_center_crop

    root, paths = list_images(csv_path, image_root)
    table = pd.read_csv(csv_path)
    columns = [c for c in table.columns[1:] if c in ATTRIBUTES]
    check_attribute_names([c for c in table.columns[1:] if c.lower() in ATTRIBUTES and c not in ATTRIBUTES],
                          f'{csv_path} (attribute columns are lower case)')
    if not columns:
        raise ValueError(f'{csv_path}: no attribute columns; name them some of {list(ATTRIBUTES)}.')
    images = [resize_center_crop(read_rgb(root / p, draft_size=size).unsqueeze(0), size)[0] for p in paths]
    indices = np.arange(len(images))
    sweeps = {name: [(indices, table[name].to_numpy(dtype=np.float64))] for name in columns}
    return ProbeSet(torch.stack(images), sweeps, f'labelled: {csv_path} ({len(images)} images, {columns})')
