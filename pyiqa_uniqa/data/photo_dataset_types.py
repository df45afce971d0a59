"""pyiqa dataset types over the photo-distortion datasets: built into ``dataroot_target`` on first use.

``type: PhotoDistortionNRDataset`` (or ``...FRDataset``) in a recipe, with the builder's keyword
arguments under ``build_opts``; everything else is pyiqa's GeneralNRDataset / GeneralFRDataset.
This module imports pyiqa (seconds); the builders in ``photo_datasets`` do not.
"""
import inspect

import torch
from PIL import Image
from pyiqa.data.general_fr_dataset import GeneralFRDataset
from pyiqa.data.general_nr_dataset import GeneralNRDataset

from pyiqa_uniqa.data.photo_datasets import MOS_RANGE, build_fr_dataset, build_nr_dataset
from pyiqa_uniqa.errors import InvalidOptionError


def options_with_built_dataset(opt, builder):
    """Build the dataset described by ``opt['build_opts']`` into ``dataroot_target`` and fill pyiqa's path options.

    ``meta_info_file`` and ``split_file`` default to the built files; give ``split_file: ~`` (or a
    ``split_index``) explicitly to use the whole set or the CSV's ``split`` column instead.
    """
    opt = dict(opt)
    if not opt.get('dataroot_target'):
        raise InvalidOptionError(f'{opt.get("type", "PhotoDistortion dataset")} needs dataroot_target: the folder '
                                 'to build the photo-distortion dataset in (it is built there on first use)')
    build_opts = opt.get('build_opts') or {}
    if not isinstance(build_opts, dict):
        raise TypeError(f'build_opts must be a mapping of builder options, got {build_opts!r}')
    allowed = set(inspect.signature(builder).parameters) - {'root'}
    unknown = sorted(set(build_opts) - allowed)
    if unknown:
        raise InvalidOptionError(f'unknown build_opts {unknown}; allowed: {sorted(allowed)}')
    paths = builder(opt['dataroot_target'], **build_opts)
    opt.setdefault('meta_info_file', paths['meta_info_file'])
    if 'split_file' not in opt and 'split_index' not in opt:
        opt['split_file'] = paths['split_file']
    opt.setdefault('mos_range', list(MOS_RANGE))
    opt.setdefault('lower_better', False)
    return opt


class PhotoDistortionNRDataset(GeneralNRDataset):
    """GeneralNRDataset over scikit-image photos with synthetic distortions.

    Options: those of GeneralNRDataset, plus ``build_opts`` (keyword arguments of ``build_nr_dataset``)
    and ``cache_images`` (default false): keep each image decoded after its first read, so later
    epochs and validation passes skip PNG decoding, which took about 70% of a CPU run of the demo
    recipe. The transforms still run on every read (random augmentation is unchanged) and the items
    are identical. Memory: the decoded split (the demo's 410 training images of 224 px: 60 MiB). With
    dataloader workers each worker keeps its own copy for as long as it lives.
    """

    option_keys = {'dataset': {'build_opts', 'cache_images'}}  # read by pyiqa_uniqa's option check

    def __init__(self, opt):
        super().__init__(options_with_built_dataset(opt, build_nr_dataset))
        self.decoded = {} if opt.get('cache_images') else None

    def __getitem__(self, index):
        if self.decoded is None:
            return super().__getitem__(index)
        path, mos = self.paths_mos[index]
        if path not in self.decoded:
            with Image.open(path) as image:
                self.decoded[path] = image.convert('RGB')  # as GeneralNRDataset reads it
        return {'img': self.trans(self.decoded[path]) * self.img_range, 'mos_label': torch.tensor([float(mos)]),
                'img_path': path}


class PhotoDistortionFRDataset(GeneralFRDataset):
    """GeneralFRDataset (reference + distorted) over scikit-image photos with synthetic distortions.

    Options: those of GeneralFRDataset, plus ``build_opts`` (keyword arguments of ``build_fr_dataset``).
    """

    option_keys = {'dataset': {'build_opts'}}  # read by pyiqa_uniqa's option check

    def __init__(self, opt):
        super().__init__(options_with_built_dataset(opt, build_fr_dataset))
