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
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.attiqa.errors import InputError
from pyiqa_uniqa.attiqa.image_sources import list_images
from pyiqa_uniqa.backbones.clip_input import resize_center_crop
from pyiqa_uniqa.data.distortions import ATTRIBUTE_EFFECTS, LEVELS, apply_distortion
from pyiqa_uniqa.data.images import image_to_tensor
from pyiqa_uniqa.data.photos import load_photos


@dataclass
class ProbeSet:
    images: torch.Tensor  # [N, 3, H, W] in [0, 1]
    sweeps: dict = field(default_factory=dict)  # attribute -> [(indices ndarray, expected ndarray)]
    description: str = ''


def synthetic_probe(size=224, photos=None, seed=0):
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


@dataclass
class ProbeTable:
    """A labelled probe CSV, read and checked (before any model loads)."""
    root: Path
    paths: list
    values: dict  # attribute -> expected values [N]
    source: str


def read_probe_table(csv_path, image_root=None):
    """First column image path (relative to ``image_root``), other columns named after attributes."""
    root, paths = list_images(csv_path, image_root, flag='--probe')
    missing = [p for p in paths if not (root / p).is_file()]
    if missing:  # every probe image carries its expected value: none may be skipped
        raise InputError(f'--probe {csv_path}: {len(missing)} of its images do not exist under {root}, e.g. '
                         f'{", ".join(missing[:3])}.')
    table = pd.read_csv(csv_path)
    wrong_case = [c for c in table.columns[1:] if c.lower() in ATTRIBUTES and c not in ATTRIBUTES]
    if wrong_case:
        raise InputError(f'--probe {csv_path}: columns {wrong_case}: attribute columns are lower case.')
    columns = [c for c in table.columns[1:] if c in ATTRIBUTES]
    if not columns:
        raise InputError(f'--probe {csv_path}: no attribute columns; name them some of {list(ATTRIBUTES)}.')
    try:
        values = {name: table[name].to_numpy(dtype=np.float64) for name in columns}
    except ValueError as err:
        raise InputError(f'--probe {csv_path}: attribute columns must hold numbers ({err}).') from err
    return ProbeTable(root, paths, values, str(csv_path))


def labelled_probe(table, size=224):
    """The probe images of a ``ProbeTable`` at CLIP's input ``size``; one sweep per attribute column."""
    images = [resize_center_crop(image_to_tensor(table.root / p, draft_size=size).unsqueeze(0), size)[0]
              for p in table.paths]
    indices = np.arange(len(images))
    sweeps = {name: [(indices, values)] for name, values in table.values.items()}
    return ProbeSet(torch.stack(images), sweeps,
                    f'labelled: {table.source} ({len(images)} images, {list(table.values)})')
