"""What a CLIP image tower expects: its input size and the pixel statistics it was trained with.

Images reach our networks as tensors in [0, 1] (pyiqa's convention), so the evaluation
preprocessing of open_clip (``image_transform(..., is_train=False)``: resize the short side,
bicubic, centre crop, normalise) is redone here on tensors, batched and on the model's device.
The mean/std are the values of open_clip's ``OPENAI_DATASET_MEAN``/``_STD``, the statistics every
OpenAI-format CLIP was trained with (written out, so that importing this module does not import
open_clip: DepictQA's Hugging Face CLIP and ATTIQA's labeller need only the constants and the
resize); ``ClipInput.of(model)`` reads them, with the size, from the model's own preprocessing
config, so a model trained with other statistics gets those.

``ClipInput`` is a module whose mean/std are non-persistent buffers: it moves with the network
(``.to()``, DataParallel replicas) and never appears in a checkpoint.
"""
import torch
import torch.nn.functional as F
from torch import nn

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # open_clip.OPENAI_DATASET_MEAN
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)  # open_clip.OPENAI_DATASET_STD

__all__ = ['CLIP_MEAN', 'CLIP_STD', 'ClipInput', 'resize_center_crop']


def resize_center_crop(images, size):
    """[B, C, H, W] -> [B, C, size, size]: short side to ``size``, then the centre crop, with the
    sizes and offsets of open_clip's evaluation transform (torchvision's ``Resize`` truncates the
    long side, ``CenterCrop`` rounds the offset) and antialiased bicubic resampling like PIL's.
    Differentiable; values stay in [0, 1]."""
    height, width = images.shape[-2:]
    if (height, width) != (size, size):
        if height <= width:
            new_h, new_w = size, max(size, int(size * width / height))
        else:
            new_h, new_w = max(size, int(size * height / width)), size
        images = F.interpolate(images, size=(new_h, new_w), mode='bicubic', antialias=True,
                               align_corners=False).clamp(0, 1)
        top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
        images = images[..., top:top + size, left:left + size]
    return images


class ClipInput(nn.Module):
    """Tensor-side CLIP preprocessing: ``resize_center_crop`` to ``size`` and ``normalize``.

    ``ClipInput()`` is OpenAI CLIP at 224 px; ``ClipInput.of(model)`` takes an open_clip model's
    own size and statistics. Calling it does both steps: ``clip_input(images)`` is what
    ``model.encode_image`` wants.
    """

    def __init__(self, size=224, mean=CLIP_MEAN, std=CLIP_STD):
        super().__init__()
        self.size = int(size)
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    @classmethod
    def of(cls, clip_model):
        """The input of an open_clip model (a CLIP or its ``visual`` tower)."""
        import open_clip  # only here: the module's other users need no open_clip
        cfg = open_clip.get_model_preprocess_cfg(clip_model)
        size = cfg.get('size', 224)
        if isinstance(size, (tuple, list)):
            if len(set(size)) != 1:
                raise ValueError(f'ClipInput is for square CLIP inputs; this model takes {tuple(size)}.')
            size = size[0]
        return cls(size, cfg.get('mean', CLIP_MEAN), cfg.get('std', CLIP_STD))

    def normalize(self, images):
        """(images - mean) / std for [B, 3, H, W] in [0, 1]."""
        return (images - self.mean) / self.std

    def resize_center_crop(self, images):
        return resize_center_crop(images, self.size)

    def forward(self, images):
        return self.normalize(self.resize_center_crop(images))

    def extra_repr(self):
        return f'size={self.size}'
