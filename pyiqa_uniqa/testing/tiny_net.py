"""A tiny IQA network with a frozen random backbone, for exercising the training machinery.

Small enough to train for a few dozen iterations on CPU in seconds, and built like the real
models (a frozen tower held outside the checkpoint, a trainable head), so the tests of training,
resume and checkpoint contents exercise what the real families rely on.
"""
import torch
import torch.nn as nn

from pyiqa_uniqa.backbones.frozen import FrozenTowerModule


class TinyIQANet(FrozenTowerModule):

    def __init__(self, channels=8, seed=0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        backbone = nn.Sequential(nn.Conv2d(3, channels, 5, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        for p in backbone.parameters():
            p.data = torch.randn(p.shape, generator=generator) * 0.2
        self.hold_frozen('backbone', backbone)
        self.head = nn.Linear(channels, 1)
        self.frozen_norm = nn.LayerNorm(channels).requires_grad_(False)  # a frozen *registered* part

    def forward(self, x):
        features = self.backbone(x).flatten(1)
        return torch.sigmoid(self.head(self.frozen_norm(features)))
