"""A tiny IQA network with a frozen random backbone, for exercising the training machinery.

Small enough to train for a few dozen iterations on CPU in seconds, and built like the real
models (a frozen tower held outside the checkpoint, a trainable head, the frozen-feature
protocol of ``pyiqa_uniqa.backbones.frozen``, a ``precision`` for the tower), so the tests of
training, resume, checkpoint contents and feature caching exercise what the real families rely on.

With ``crop_size`` set, eval mode scores five crops (centre and corners, UniQA's ``five`` mode)
and averages them: V = 5 views per image; training mode scores the image as given.
"""
import torch
import torch.nn as nn

from pyiqa_uniqa.backbones.frozen import FrozenTowerModule
from pyiqa_uniqa.backbones.precision import check_precision, frozen_autocast


class TinyIQANet(FrozenTowerModule):

    def __init__(self, channels=8, seed=0, crop_size=None, precision='fp32'):
        super().__init__()
        check_precision(precision, 'cpu')
        generator = torch.Generator().manual_seed(seed)
        backbone = nn.Sequential(nn.Conv2d(3, channels, 5, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        for p in backbone.parameters():
            p.data = torch.randn(p.shape, generator=generator) * 0.2
        self.hold_frozen('backbone', backbone)
        self.head = nn.Linear(channels, 1)
        self.frozen_norm = nn.LayerNorm(channels).requires_grad_(False)  # a frozen *registered* part
        self.crop_size = crop_size
        self.precision = precision

    def views(self, images):
        if self.training or self.crop_size is None:
            return [images]
        size = self.crop_size
        bottom, right = images.shape[-2] - size, images.shape[-1] - size
        if bottom < 0 or right < 0:
            raise ValueError(f'TinyIQANet crops {size} px; got images of {tuple(images.shape[-2:])}.')
        offsets = [(bottom // 2, right // 2), (0, 0), (0, right), (bottom, 0), (bottom, right)]
        return [images[..., top:top + size, left:left + size] for top, left in offsets]

    def frozen_features(self, images):
        with torch.set_grad_enabled(torch.is_grad_enabled() and images.requires_grad), \
                frozen_autocast(self.precision, images.device):
            views = [self.frozen_norm(self.backbone(view).flatten(1)) for view in self.views(images)]
        return torch.stack(views, dim=1).float()

    def forward_from_features(self, features):
        return torch.sigmoid(self.head(features)).mean(dim=1)

    def frozen_features_key(self):
        return ('TinyIQANet', self.training, self.crop_size, self.precision)

    def forward(self, x):
        return self.forward_from_features(self.frozen_features(x))
