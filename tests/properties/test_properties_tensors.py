"""Generated tensors and arrays (dtypes, shapes, values) through metrics and the one reader.

Tensors go to a tiny UniQA of ours (random weights, tiny CLIP) and to pyiqa's piqe, through
``create_metric``; arrays go to ``read_image``. Shapes include empty and wrongly ranked ones,
values NaN, infinities and values outside [0, 1]. The outcome must be a finite score (an RGB
image) or a ``UserError`` naming the input (property_bounds.py).
"""
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from property_bounds import cases, check_case

from pyiqa_uniqa.data.images import read_image

DTYPES = ('float32', 'float64', 'float16', 'uint8', 'uint16', 'int32', 'int64', 'bool')
SPECIAL = (float('nan'), float('inf'), -float('inf'), -0.5, 1.5, 255.0, 0.0, 1.0)


@st.composite
def arrays(draw, ranks=(0, 1, 2, 3, 4, 5), sides=(0, 1, 2, 3, 4, 5, 16, 33)):
    """A numpy array of a drawn dtype, shape and values (uniform in [0, 1], with special values put in)."""
    shape = tuple(draw(st.sampled_from(sides)) for _ in range(draw(st.sampled_from(ranks))))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    values = np.asarray(rng.random(shape))
    for _ in range(draw(st.integers(0, 2))):
        if values.size:
            values.flat[rng.integers(values.size)] = draw(st.sampled_from(SPECIAL))
    dtype = draw(st.sampled_from(DTYPES))
    if dtype == 'bool':
        return np.asarray(values > 0.5)
    if np.issubdtype(np.dtype(dtype), np.integer):
        scale = draw(st.sampled_from((1, 255, 65535)))
        return np.asarray(np.nan_to_num(values * scale, nan=0, posinf=scale, neginf=0).astype(dtype))
    return np.asarray(values.astype(dtype))


@st.composite
def images(draw):
    """A valid [B, C, H, W] float image batch in [0, 1]: the metric must score it."""
    shape = (draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 3))), draw(st.sampled_from((16, 33, 40))),
             draw(st.sampled_from((16, 33, 40))))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 16)))
    return torch.rand(shape, generator=generator, dtype=draw(st.sampled_from((torch.float32, torch.float64))))


def tensors():
    """Valid images, image-like [B, C, H, W] tensors of every dtype and value, and every other rank."""
    image_like = arrays(ranks=(4,), sides=(0, 1, 3, 4, 16, 33))
    return st.one_of(images(), st.one_of(image_like, arrays()).map(torch.from_numpy))


_METRICS = {}


def metric(name):
    import pyiqa
    if name not in _METRICS:
        options = dict(backbone_weights='random', model_name='tiny-clip-quickgelu', num_crops=2) if name == 'uniqa' else {}
        _METRICS[name] = pyiqa.create_metric(name, device='cpu', **options)
    return _METRICS[name]


def _score(scorer, tensor):
    with torch.no_grad():
        return scorer(tensor)


def _names(tensor):
    return [f'shape {tuple(tensor.shape)}', f'of shape {tuple(tensor.shape)}']


@settings(max_examples=cases(120))
@given(tensors())
def test_generated_tensors_through_a_tiny_uniqa(tensor):
    scorer = metric('uniqa')  # built outside the timed call
    check_case('uniqa tensors', lambda: _score(scorer, tensor), _names(tensor))


@settings(max_examples=cases(200))
@given(tensors())
def test_generated_tensors_through_pyiqa_piqe(tensor):
    scorer = metric('piqe')
    check_case('piqe tensors', lambda: _score(scorer, tensor), _names(tensor))


@settings(max_examples=cases(400))
@given(arrays(ranks=(0, 1, 2, 3, 4), sides=(0, 1, 2, 3, 4, 5, 16)))
def test_generated_arrays_through_read_image(array):
    check_case('read_image arrays', lambda: read_image(array), [f'array of shape {array.shape}'],
               finite=lambda image: image.mode == 'RGB')
