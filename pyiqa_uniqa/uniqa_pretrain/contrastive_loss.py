"""Symmetric image-text contrastive (CLIP InfoNCE) loss, exact across distributed ranks.

Loss on a global batch of N pairs: the mean of the image->text and text->image cross-entropies of
``logit_scale * img @ txt.T``, matching pairs on the diagonal, which is UniQA's pre-training
objective (the official ``train_clip`` script's loss). The temperature is learnable: ``logit_scale``
is the CLIP model's own parameter (exp of a log-scale), passed in so its gradient flows.

The computation is open_clip's ``ClipLoss`` with ``local_loss=True, gather_with_grad=True``: every
rank gathers all ranks' features through a differentiable all-gather and computes only its own rows
of the logit matrix (its images against all texts, its texts against all images); the mean over
ranks of these local losses is the global loss, and DDP's gradient averaging then yields exactly the
single-process gradient of the global batch (tests/uniqa_pretrain checks this with two gloo
processes). What this wrapper adds is what a pyiqa loss needs and ClipLoss leaves to its caller:
the pyiqa loss interface (``loss_weight``, registered by name), L2-normalising the features (open_clip's
model does that before its loss), the rank and world size read at call time rather than fixed at
construction, and a clear error when ranks bring batches of different sizes (ClipLoss's all-gather
fails obscurely or hangs on them).
"""
import torch
import torch.distributed as dist
import torch.nn.functional as F
from open_clip.loss import ClipLoss
from pyiqa.utils.dist_util import get_dist_info
from torch import nn

from pyiqa_uniqa.errors import InvalidOptionError


def check_equal_batches(features, world_size):
    sizes = [torch.zeros(1, dtype=torch.long, device=features.device) for _ in range(world_size)]
    dist.all_gather(sizes, torch.tensor([features.shape[0]], device=features.device))
    if len({int(s) for s in sizes}) != 1:
        raise InvalidOptionError(f'Contrastive loss: ranks have different batch sizes {[int(s) for s in sizes]}; '
                                 'use drop_last (pyiqa does for training loaders) and equal batch_size_per_gpu.')


class SymmetricContrastiveLoss(nn.Module):
    """CLIP loss; forward(image_features, text_features, logit_scale) with logit_scale = exp(log-scale)."""

    def __init__(self, loss_weight=1.0, normalize=True):
        super().__init__()
        self.loss_weight = loss_weight
        self.normalize = normalize

    def forward(self, image_features, text_features, logit_scale):
        if image_features.shape != text_features.shape:
            raise ValueError(f'image features {tuple(image_features.shape)} and text features '
                             f'{tuple(text_features.shape)} must have the same shape (one caption per image).')
        if self.normalize:
            image_features = F.normalize(image_features, dim=-1)
            text_features = F.normalize(text_features, dim=-1)
        rank, world_size = get_dist_info()
        if world_size > 1:
            check_equal_batches(image_features, world_size)
        clip_loss = ClipLoss(local_loss=True, gather_with_grad=True, rank=rank, world_size=world_size)
        return self.loss_weight * clip_loss(image_features, text_features, logit_scale)
