"""Small real images and a tiny random CLIP labeller, shared by the ATTIQA tests."""
import pytest


@pytest.fixture(scope='session')
def image_folder(tmp_path_factory):
    """Nine small photos (one grayscale, one RGBA, one 16-bit, in a subfolder too) plus one truncated file."""
    import numpy as np
    from PIL import Image

    from pyiqa_uniqa.data.photos import load_photos
    root = tmp_path_factory.mktemp('images')
    (root / 'sub').mkdir()
    photos = load_photos()
    for i in range(9):
        name, array = photos[i % len(photos)]
        image = Image.fromarray(array).resize((40 + 4 * i, 32 + 2 * i))
        if i == 3:
            image = image.convert('L')
        elif i == 4:
            image = image.convert('RGBA')
        elif i == 5:
            image = Image.fromarray(np.asarray(image.convert('L'), dtype=np.uint16) * 257)
        image.save(root / ('sub' if i % 3 == 0 else '.') / f'{i:02d}_{name}.png')
    good = (root / '01_chelsea.png').read_bytes()
    (root / 'zz_truncated.png').write_bytes(good[:len(good) // 3])
    return root


@pytest.fixture(scope='session')
def tiny_scorer():
    import torch

    from pyiqa_uniqa.attiqa.clip_scorer import CLIPAttributeScorer
    from pyiqa_uniqa.attiqa.prompt_bank import DEFAULT_PAIRS
    from pyiqa_uniqa.backbones import create_clip, get_tokenizer
    torch.manual_seed(0)
    clip = create_clip('tiny-clip-quickgelu')
    return CLIPAttributeScorer(clip, get_tokenizer('tiny-clip-quickgelu'), DEFAULT_PAIRS)
