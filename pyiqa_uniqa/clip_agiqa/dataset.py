"""pyiqa's ``GeneralNRDataset`` plus the official CLIP-AGIQA training crop.

The official trainer (Dassl, ``INPUT.TRANSFORMS: random_resized_crop, random_flip``) trains on
``RandomResizedCrop(224, scale=(0.08, 1.0), interpolation=bicubic)`` and a horizontal flip; pyiqa's
augment options have no random-resized crop (an unknown augment key is silently ignored there), so
this dataset adds one, ``random_resized_crop: {size, scale, ratio, interpolation}`` (torchvision's
arguments; interpolation as a PIL constant, 3 = bicubic), applied in the order the keys are listed.
The official test transform (short side to 224, bicubic, centre crop) is pyiqa's own
``resize: {size: 224, interpolation: 3}`` + ``center_crop: 224``.
"""
import torchvision.transforms as tf
from pyiqa.data.general_nr_dataset import GeneralNRDataset
from pyiqa.data.transforms import PairedToTensor, transform_mapping


class CLIPAGIQADataset(GeneralNRDataset):
    option_keys = {'augment': {'random_resized_crop'}}  # read by pyiqa_uniqa's option check

    def get_transforms(self, opt):
        steps = []
        for key, args in (opt.get('augment') or {}).items():
            steps += [tf.RandomResizedCrop(**args)] if key == 'random_resized_crop' else transform_mapping(key, args)
        self.img_range = opt.get('img_range', 1.0)
        self.trans = tf.Compose([*steps, PairedToTensor()])
