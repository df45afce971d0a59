"""UniQA's downstream adapter: a bias-free residual bottleneck on the CLIP image feature.

f' = f + relu(W2 relu(W1 f)) with W1: d -> d/2 and W2: d/2 -> d, no biases and no scaling
ratio (unlike CLIP-Adapter's blend). The attribute names (``fc.0``, ``fc.2``) are the official
ones, so a checkpoint trained with the official repo loads unchanged and ours load there.
"""
from torch import nn


class ResidualAdapter(nn.Module):

    def __init__(self, dim, reduction=2):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(dim, dim // reduction, bias=False),
            nn.ReLU(),
            nn.Linear(dim // reduction, dim, bias=False),
            nn.ReLU(),
        )

    def forward(self, features):
        return features + self.fc(features)
