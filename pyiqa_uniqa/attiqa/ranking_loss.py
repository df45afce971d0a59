"""Attribute-aware pre-training loss: in-batch pairwise margin ranking per attribute.

For attribute k and every pair (i, j) of the batch whose pseudo-labels differ by more than
``tie_threshold``, the prediction must order them like the labels, by at least ``margin``:
``max(0, margin - sign(t_i - t_j) * (p_i - p_j))``. Near ties carry no reliable order (CLIP
pseudo-labels are noisy), so they are skipped. The loss is the mean over valid pairs, averaged
over the attributes that have any. ``mode='regression'`` (L1 to the pseudo-labels) is the
comparison the paper's ablation reports against.
"""
import torch
import torch.nn.functional as F
from torch import nn

from pyiqa_uniqa.errors import InvalidOptionError, UnknownNameError


class AttributeRankingLoss(nn.Module):
    """pred, target: [B, K] (K attributes). Returns a scalar.

    margin: required score gap between correctly ordered images.
    tie_threshold: label differences at or below this are ties and ignored.
    scale_margin_by_gap: margin * |t_i - t_j| instead of a fixed margin (larger label gaps demand
        larger score gaps).
    mode: 'ranking' or 'regression' (L1 on the labels).
    """

    def __init__(self, margin=0.1, tie_threshold=0.02, scale_margin_by_gap=False, mode='ranking',
                 loss_weight=1.0):
        super().__init__()
        if mode not in ('ranking', 'regression'):
            raise UnknownNameError(f"mode must be 'ranking' or 'regression', got {mode!r}")
        if margin < 0 or tie_threshold < 0:
            raise InvalidOptionError('margin and tie_threshold must be >= 0')
        self.margin = margin
        self.tie_threshold = tie_threshold
        self.scale_margin_by_gap = scale_margin_by_gap
        self.mode = mode
        self.loss_weight = loss_weight

    def forward(self, pred, target):
        if pred.shape != target.shape or pred.dim() != 2:
            raise ValueError(f'pred and target must both be [B, K]; got {tuple(pred.shape)} and {tuple(target.shape)}')
        target = target.to(pred.dtype)
        if self.mode == 'regression':
            return self.loss_weight * F.l1_loss(pred, target)
        return self.loss_weight * self._ranking(pred, target)

    def _ranking(self, pred, target):
        # [K, B, B] differences; each unordered pair appears twice with opposite signs, which
        # gives the same hinge value twice, so the mean over ordered pairs equals the mean over
        # unordered ones.
        pred_diff = (pred.unsqueeze(1) - pred.unsqueeze(0)).permute(2, 0, 1)
        target_diff = (target.unsqueeze(1) - target.unsqueeze(0)).permute(2, 0, 1)
        valid = target_diff.abs() > self.tie_threshold
        margin = self.margin * target_diff.abs() if self.scale_margin_by_gap else self.margin
        hinge = F.relu(margin - torch.sign(target_diff) * pred_diff)
        pairs_per_attribute = valid.sum(dim=(1, 2))
        per_attribute = (hinge * valid).sum(dim=(1, 2)) / pairs_per_attribute.clamp(min=1)
        has_pairs = pairs_per_attribute > 0
        if not has_pairs.any():
            return pred.sum() * 0  # all ties: nothing to learn, but keep the graph for backward()
        return per_attribute[has_pairs].mean()
