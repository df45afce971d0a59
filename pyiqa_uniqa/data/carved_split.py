"""``CarvedSplitNRDataset``: a no-reference view of any pyiqa dataset's split, with a validation
part carved off and an optional few-label subset.

Why: pyiqa's standard splits (``ratio802_seed123_split_NN`` columns, ``*_seed123.pkl`` files) are
80/20 train/test with no validation part, and the official UniQA recipes select their best
checkpoint on the test part, which makes the reported numbers optimistic. This dataset takes the
``source_phase`` split (default ``train``) of a pyiqa dataset of type ``base_type`` (built with the
same options, so meta-info files, split files, ``split_index`` and MOS normalisation keep their
pyiqa meaning), shuffles it with ``carve_seed`` and serves:

- ``part: train``: all but ``val_fraction`` of it; with ``num_labels: N`` only N of those, drawn
  with ``label_seed`` (the few-label protocol: a fixed, reproducible subset per seed);
- ``part: val``: the carved-off ``val_fraction`` (disjoint from every ``train`` subset);
- ``part: all``: the whole split (e.g. ``source_phase: test`` to evaluate on the test part when
  you ask for it).

``part`` defaults to the phase pyiqa assigns (``train`` for ``datasets.train``, ``val`` for
``datasets.val*``); pyiqa's ``override_phase: test`` means ``source_phase: test, part: all``.
Full-reference datasets (LIVE, KADID-10k) are served as no-reference, the distorted image only,
as UniQA uses them; the reference image is never read.
"""
import math
import os
from typing import ClassVar

import torch
from torch.utils import data
from torchvision.transforms import functional as TF

from pyiqa_uniqa.data.images import read_image
from pyiqa_uniqa.errors import InvalidOptionError, UnknownNameError

PARTS = ('train', 'val', 'all')


class CarvedSplitNRDataset(data.Dataset):
    option_keys: ClassVar = {'dataset': {'base_type', 'source_phase', 'part', 'val_fraction', 'carve_seed',
                               'num_labels', 'label_seed'}}

    def __init__(self, opt):
        from pyiqa.data import build_dataset
        from pyiqa.data.transforms import transform_mapping

        self.opt = opt  # pyiqa's validation reads dataset.opt['name']
        own = self.option_keys['dataset']
        base_opt = {k: v for k, v in opt.items() if k not in own and k not in ('type', 'augment')}
        asked_test = opt.get('override_phase') == 'test'
        source = opt.get('source_phase') or ('test' if asked_test else 'train')
        base_opt.update(type=opt['base_type'], phase=source, override_phase=None)
        base_opt.setdefault('name', opt['base_type'])
        base = build_dataset(base_opt)  # also imports pyiqa's dataset module for base_type
        pool = [image_and_mos(base, row) for row in base.paths_mos]

        phase = opt.get('phase', 'train')
        part = opt.get('part') or ('all' if asked_test or phase == 'test' else phase)
        if part not in PARTS:
            raise UnknownNameError(f'CarvedSplitNRDataset: part must be one of {PARTS}, got {part!r}.')
        self.items = select_part(pool, part, opt.get('val_fraction', 0.1), opt.get('carve_seed', 123),
                                 opt.get('num_labels'), opt.get('label_seed', 0))
        if not self.items:
            raise InvalidOptionError(f'CarvedSplitNRDataset {opt.get("name", "")!r}: part {part!r} is empty '
                                     f'({len(pool)} images in the {base_opt["phase"]} split).')
        augment = opt.get('augment') or {}
        self.transforms = [t for key, value in augment.items() for t in transform_mapping(key, value)]
        self.img_range = opt.get('img_range', 1.0)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        path, mos = self.items[index]
        image = read_image(path)
        for transform in self.transforms:
            image = transform(image)
        tensor = TF.to_tensor(image) if not torch.is_tensor(image) else image
        return {'img': tensor * self.img_range, 'mos_label': torch.tensor([float(mos)]), 'img_path': path}


def image_and_mos(base, row):
    """(image path, MOS) from a row of a pyiqa dataset's ``paths_mos``."""
    classes = {cls.__name__ for cls in type(base).__mro__}  # by name: importing AVA has side effects
    if 'GeneralFRDataset' in classes:
        return row[1], row[2]  # [reference, distorted, MOS]
    if 'AVADataset' in classes:
        return os.path.join(base.dataroot, row[0]), row[1]  # AVA keeps bare file names
    return row[0], row[1]


def select_part(pool, part, val_fraction, carve_seed, num_labels=None, label_seed=0):
    """The ``part`` of ``pool`` (see module doc); deterministic for fixed seeds."""
    if part == 'all':
        return list(pool)
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(carve_seed)).tolist()
    num_val = math.ceil(val_fraction * len(pool)) if val_fraction > 0 else 0
    chosen = order[:num_val] if part == 'val' else order[num_val:]
    if part == 'train' and num_labels is not None:
        if num_labels > len(chosen):
            raise InvalidOptionError(f'num_labels={num_labels} but only {len(chosen)} training images remain.')
        picks = torch.randperm(len(chosen), generator=torch.Generator().manual_seed(label_seed))
        chosen = [chosen[i] for i in picks[:num_labels].tolist()]
    return [pool[i] for i in sorted(chosen)]
