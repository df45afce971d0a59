"""Symmetric image-text contrastive (CLIP InfoNCE) loss, exact across distributed ranks.

Loss on a global batch of N pairs: the mean of the image->text and text->image cross-entropies of
``logit_scale * img @ txt.T``, matching pairs on the diagonal (UniQA's objective, research/uniqa.md
§1.5). The temperature is learnable: ``logit_scale`` is the CLIP model's own parameter (exp of a
log-scale), passed in so its gradient flows.

Distributed: every rank gathers all ranks' features. The local slice of the gathered matrix is the
rank's own tensor (its autograd graph kept); in backward the gradients that other ranks computed
for this rank's features are summed in (an all-reduce), which the plain "gather without grad and
put the local slice back" recipe misses: with DDP's gradient averaging that recipe gives the towers
1/world_size of the true gradient while ``logit_scale`` gets all of it. Each rank computes only
its own rows of the logit matrix (its images against all texts, its texts against all images);
the mean over ranks of these local losses is the global loss, and DDP's averaging then yields
exactly the single-process gradient of the global batch (tests/uniqa_pretrain checks this with
two gloo processes).
"""
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


class _GatherWithGrad(torch.autograd.Function):
    """all_gather along dim 0 whose backward returns this rank's slice of the summed gradients."""

    @staticmethod
    def forward(ctx, tensor):
        world_size, rank = dist.get_world_size(), dist.get_rank()
        gathered = [torch.empty_like(tensor) for _ in range(world_size)]
        dist.all_gather(gathered, tensor.contiguous())
        gathered[rank] = tensor
        ctx.rank, ctx.size = rank, tensor.shape[0]
        return torch.cat(gathered, dim=0)

    @staticmethod
    def backward(ctx, grad_output):
        grad = grad_output.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.size:(ctx.rank + 1) * ctx.size]


def gather_features(features):
    """Features of all ranks, in rank order ([world_size * n, D]); identity when not distributed."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return features, 0
    sizes = [torch.zeros(1, dtype=torch.long, device=features.device) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, torch.tensor([features.shape[0]], device=features.device))
    if len({int(s) for s in sizes}) != 1:
        raise ValueError(f'Contrastive loss: ranks have different batch sizes {[int(s) for s in sizes]}; '
                         'use drop_last (pyiqa does for training loaders) and equal batch_size_per_gpu.')
    return _GatherWithGrad.apply(features), dist.get_rank() * features.shape[0]


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
        all_images, offset = gather_features(image_features)
        all_texts, _ = gather_features(text_features)
        targets = torch.arange(image_features.shape[0], device=image_features.device) + offset
        logits_per_image = logit_scale * image_features @ all_texts.T
        logits_per_text = logit_scale * text_features @ all_images.T
        # under autocast the logits may be half precision; the softmax is taken in at least fp32
        dtype = torch.promote_types(logits_per_image.dtype, torch.float32)
        loss = (F.cross_entropy(logits_per_image.to(dtype), targets)
                + F.cross_entropy(logits_per_text.to(dtype), targets)) / 2
        return self.loss_weight * loss
