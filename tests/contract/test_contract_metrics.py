"""Contract test over every declared metric name: it builds through ``pyiqa.create_metric`` from tiny
random weights (the test kit), scores a batch and a file path, and gives the file the same score as
the same pixels passed as a tensor."""
import numpy as np
import pytest
import torch
from PIL import Image

from pyiqa_uniqa.configs import METRIC_CONFIGS
from pyiqa_uniqa.testing.tiny_metrics import tiny_metric_options


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp('tiny_metrics')


@pytest.fixture(scope='module')
def images(folder):
    """Two random uint8 images (the second one smoother), as files and as [1, 3, H, W] tensors in [0, 1]."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    out = []
    for index, array in enumerate([noise, np.asarray(Image.fromarray(noise).reduce(4).resize((64, 48)))]):
        path = folder / f'image{index}.png'
        Image.fromarray(array).save(path)
        out.append((str(path), torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255))
    return out


@pytest.mark.parametrize('name', sorted(METRIC_CONFIGS))
def test_every_metric_builds_tiny_and_scores_a_batch_and_a_path(name, folder, images):
    import pyiqa
    metric = pyiqa.create_metric(name, device='cpu', **tiny_metric_options(name, folder))
    assert metric.metric_mode == METRIC_CONFIGS[name]['metric_mode']
    full_reference = metric.metric_mode == 'FR'
    (path, tensor), (reference_path, reference) = images
    with torch.no_grad():
        batch = torch.cat([tensor, reference])
        batch_scores = metric(batch, batch.flip(0)) if full_reference else metric(batch)
        path_score = metric(path, reference_path) if full_reference else metric(path)
        tensor_score = metric(tensor, reference) if full_reference else metric(tensor)
    assert batch_scores.numel() == 2 and torch.isfinite(batch_scores).all()
    assert path_score.numel() == 1 and torch.isfinite(path_score).all()
    # a file and its pixels as a tensor are the same input, alone or in a batch
    assert path_score.flatten().item() == pytest.approx(tensor_score.flatten().item(), abs=1e-5)
    assert batch_scores.flatten()[0].item() == pytest.approx(tensor_score.flatten().item(), abs=1e-4)
