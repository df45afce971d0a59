"""``AttributeLabelDataset``: images with their five attribute pseudo-labels, for pre-training.

Reads the meta-info CSV written by ``pyiqa-uniqa label`` (image path, then one column per
attribute, optional split columns) with pyiqa's usual options: ``dataroot_target``,
``meta_info_file``, ``split_index: split`` with ``phase``/``override_phase``, ``augment``.
Returns ``img``, ``attributes`` (float [5] in ``ATTRIBUTES`` order) and ``img_path``.
"""
from os import path as osp

import torch
from pyiqa.data.base_iqa_dataset import BaseIQADataset

from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.attiqa.errors import InputError
from pyiqa_uniqa.data.images import read_image


class AttributeLabelDataset(BaseIQADataset):

    def init_path_mos(self, opt):
        super().init_path_mos(opt)
        missing = [name for name in ATTRIBUTES if name not in self.meta_info.columns]
        if missing:
            raise InputError(f"{opt['meta_info_file']}: no column(s) {missing}; write it with pyiqa-uniqa label.")
        values = self.meta_info[list(ATTRIBUTES)].to_numpy(dtype='float32')
        root = opt['dataroot_target']
        self.paths_mos = [[osp.join(root, str(p)), row] for p, row in zip(self.meta_info.iloc[:, 0], values)]

    def mos_normalize(self, opt):
        if opt.get('mos_normalize'):
            raise InputError('AttributeLabelDataset: pseudo-labels are already in [0, 1]; remove mos_normalize.')

    def __getitem__(self, index):
        img_path, attributes = self.paths_mos[index]
        img = read_image(img_path)
        return {'img': self.trans(img) * self.img_range, 'attributes': torch.from_numpy(attributes),
                'img_path': img_path}
