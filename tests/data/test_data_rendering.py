"""The shared renderer: the same photo, distortions and seed give the same pixels in every builder."""
import io

import numpy as np
import torch
from PIL import Image

from pyiqa_uniqa.data.distortions import apply_distortion
from pyiqa_uniqa.data.rendering import distortion_seed, encode_png, render_distortions, resize_short_side


def test_distortions_apply_in_order_each_with_its_own_seed():
    array = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    combo = [('noise', 2), ('blur', 1)]
    rendered = render_distortions(array, combo, seed=3, photo='coffee')
    image = torch.from_numpy(array).permute(2, 0, 1).float() / 255
    for name, level in combo:
        image = apply_distortion(image, name, level, seed=distortion_seed(3, 'coffee', name, level))
    assert np.array_equal(rendered, (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    assert not np.array_equal(rendered, render_distortions(array, combo, seed=4, photo='coffee'))
    assert np.array_equal(render_distortions(array, [], seed=3, photo='coffee'), array)
    assert distortion_seed(0, 'coffee', 'noise', 3) == distortion_seed(0, 'coffee', 'noise', 3) != \
        distortion_seed(0, 'coffee', 'noise', 4)


def test_resize_short_side_and_png_round_trip():
    array = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    assert resize_short_side(array, 20).shape == (20, 30, 3)
    assert resize_short_side(array, 80).shape == (80, 120, 3)
    assert resize_short_side(array, 80, upscale=False) is array
    assert resize_short_side(array, None) is array
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_png(array)))), array)
