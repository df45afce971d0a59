"""Folders of test images for ``score`` and the applications, and tiny metric specs."""
import numpy as np
import pytest
import torch
from PIL import Image

from pyiqa_uniqa.attiqa.arch import ATTIQA

# sizes repeat, so some batches group several images and some hold one
SIZES = [(40, 56), (48, 48), (40, 56), (64, 40), (40, 56), (48, 48), (36, 60), (40, 56)]


@pytest.fixture(scope='session')
def photo_pairs(tmp_path_factory):
    """``dist/`` and ``ref/`` with the same relative paths (two in a subfolder), mixed sizes and modes
    (16-bit grayscale, 8-bit grayscale, RGBA with transparent pixels: the inputs where this package's
    reader and pyiqa's differ), plus a truncated file and a file that is not an image in ``dist/`` only."""
    root = tmp_path_factory.mktemp('pairs')
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(SIZES):
        name = f'sub/im{i}.png' if i in (3, 6) else f'im{i}.png'
        ref = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        dist = np.clip(ref.astype(int) + rng.integers(-25, 25, ref.shape), 0, 255).astype(np.uint8)
        for folder, array in (('ref', ref), ('dist', dist)):
            (root / folder / name).parent.mkdir(parents=True, exist_ok=True)
            image = Image.fromarray(array)
            if i == 1:
                image = Image.fromarray(array[..., 0].astype(np.uint16) * 257)  # 16-bit grayscale
            elif i == 5:
                image = image.convert('L')  # grayscale
            elif i == 7:
                alpha = np.where(np.arange(w) < w // 2, 255, 64).astype(np.uint8)[None].repeat(h, 0)
                image = Image.fromarray(np.dstack([array, alpha]))  # RGBA, half of it translucent
            image.save(root / folder / name)
    (root / 'dist' / 'truncated.png').write_bytes((root / 'dist' / 'im0.png').read_bytes()[:80])
    (root / 'dist' / 'notes.png').write_text('not an image')
    return root


@pytest.fixture(scope='session')
def attiqa_checkpoint(tmp_path_factory):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = ATTIQA(backbone='test_resnet', backbone_weights='random', head_hidden=16)
    path = tmp_path_factory.mktemp('attiqa') / 'attiqa.pth'
    torch.save({'params': net.state_dict()}, path)
    return path


@pytest.fixture(scope='session')
def tiny_specs(tiny_clip_checkpoint, attiqa_checkpoint):
    """label -> (metric name, options) for NR and FR metrics, ours and pyiqa's, all offline."""
    return {
        'uniqa': ('uniqa', {'model_name': 'tiny-clip-quickgelu', 'num_crops': 2,
                            'backbone_weights': str(tiny_clip_checkpoint)}),
        'attiqa': ('attiqa', {'backbone': 'test_resnet', 'head_hidden': 16,
                              'pretrained_model_path': str(attiqa_checkpoint)}),
        'piqe': ('piqe', {}),
        'psnr': ('psnr', {}),
    }


def spec_text(name, options):
    return name + (':' + ','.join(f'{k}={v}' for k, v in options.items()) if options else '')
