import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pyiqa_uniqa.data.photos import load_photos


@pytest.fixture(scope='session')
def small_photos():
    """All bundled photos as float [3,H,W] tensors with the short side at 96 px (fast to distort)."""
    images = []
    for name, array in load_photos():
        x = torch.from_numpy(array).permute(2, 0, 1).float() / 255.0
        h, w = x.shape[1:]
        scale = 96 / min(h, w)
        x = F.interpolate(x[None], size=(round(h * scale), round(w * scale)), mode='area')[0]
        images.append((name, x.clamp(0, 1)))
    return images


@pytest.fixture
def rng_image():
    return torch.from_numpy(np.random.default_rng(0).random((3, 40, 56), dtype=np.float32))

