"""pyiqa's own inputs, made to fail clearly: ``create_metric(...)(image)`` and the ``pyiqa`` CLI.

pyiqa's ``InferenceModel`` turns a path, a file's bytes or a PIL image into a tensor with
``imread2tensor(img, rgb=True)``: ``Image.open`` then ``convert('RGB')``. A truncated file then
raises ``OSError: Truncated File Read`` without its name, or, once pyiqa's AVA dataset module has
switched PIL's global ``LOAD_TRUNCATED_IMAGES`` on, is scored silently as a grey-padded image; a
file of a billion pixels is decoded until memory runs out (PIL only warns below 179M pixels).
Tensors meet bare ``assert`` statements, or none: a bool tensor fails deep inside a network, an
int64 one scores NaN, an empty one fails in ``min()``.

The start-up hook (``pyiqa_uniqa/hook.py``) wraps ``InferenceModel._to_batched_tensor`` and
``InferenceModel.forward`` when pyiqa imports them, and changes only this:

- pyiqa's own metrics: a file is decoded by ``open_image`` (strict decoding; the pixel, file-size
  and memory bounds read from the header, counting ``PYIQA_WORK_BYTES`` a pixel for the metric's
  own float copies; errors naming the file), then converted by pyiqa's own ``imread2tensor``
  exactly as before, so scores match pyiqa's (a float TIFF, which ``convert('RGB')`` turns black,
  then gets the error for a score that is not finite below); numpy arrays, which pyiqa does not
  take, follow the one reader's rule.
- this package's metrics: the one reader (``read_image``), so a picture scores the same whether it
  comes as a path, a PIL image or an array (transparent pixels on white, 16-bit by bit depth,
  where ``convert('RGB')`` would drop the alpha and clip 16-bit values at 255).
- every metric: a tensor must be floating point, [B, C, H, W] with C 1 or 3 (a [C, H, W] image is
  batched), not empty, finite, and in [0, 1] where the metric checks the range; an image smaller
  than a metric's blocks (``MIN_SIDE``) and a score that is not finite (piqe on a black image:
  it divides by the image's maximum) are a ``MetricInputError`` naming the input. Half-precision
  tensors are scored in float32: pyiqa's range check adds 1e-6 to 1, which half precision rounds
  away, so it would refuse any image holding a pure white pixel.
"""
import io

import numpy as np
import torch
from pyiqa.utils.img_util import imread2tensor

from pyiqa_uniqa.data.images import image_to_tensor, open_image
from pyiqa_uniqa.errors import UserError

# pyiqa's metrics make several float copies of an image (piqe: ~37 bytes a pixel measured); counted
# with the decode when the memory bound is checked
PYIQA_WORK_BYTES = 64
# the smallest height and width a metric scores: piqe cuts 16x16 blocks (half of that is padded)
MIN_SIDE = {'piqe': 16}


class MetricInputError(UserError, ValueError):
    """An input a metric cannot score: wrong dtype, shape or values, or too small for the metric."""


def is_ours(network_class):
    """Whether a network class is this package's (read by ``read_image``) rather than pyiqa's."""
    return network_class.__module__.startswith('pyiqa_uniqa.')


def read_for_metric(img, ours):
    """The [1, 3, H, W] tensor ``create_metric(...)(img)`` scores for a path or a file's bytes (and,
    for this package's metrics, a PIL image or an array): the rule of the module doc. ``ours``:
    ``is_ours`` of the metric's network class."""
    if ours or isinstance(img, np.ndarray):
        return image_to_tensor(img)[None]
    image = open_image(io.BytesIO(img) if isinstance(img, bytes) else img, work_bytes_per_pixel=PYIQA_WORK_BYTES)
    return imread2tensor(image, rgb=True)[None]


def describe(img):
    """How an error names an input: its path, or what it is."""
    if isinstance(img, str):
        return img
    if torch.is_tensor(img) or isinstance(img, np.ndarray):
        return f'the {type(img).__name__} of shape {tuple(img.shape)} and dtype {img.dtype}'
    return 'the image bytes' if isinstance(img, bytes) else f'the {type(img).__name__}'


def check_tensor(tensor, metric, tolerance=None):
    """Raise ``MetricInputError`` unless ``tensor`` is what the module doc says a metric takes; values
    may stray ``tolerance`` outside [0, 1] (None: the range is not checked, as the metric asks)."""
    name = describe(tensor)
    if not tensor.is_floating_point():
        hint = ' (divide 8-bit values by 255)' if tensor.dtype == torch.uint8 else ''
        raise MetricInputError(f'{metric} cannot score {name}: give float values in [0, 1]{hint}.')
    if tensor.dim() not in (3, 4) or tensor.shape[-3] not in (1, 3):
        raise MetricInputError(f'{metric} cannot score {name}: give images as [B, C, H, W] or [C, H, W] '
                               'with C = 1 (gray) or 3 (RGB).')
    if tensor.numel() == 0:
        raise MetricInputError(f'{metric} cannot score {name}: it is empty.')
    if not torch.isfinite(tensor).all():
        raise MetricInputError(f'{metric} cannot score {name}: it holds NaN or infinite values.')
    low, high = tensor.min().item(), tensor.max().item()
    if tolerance is not None and (low < -tolerance or high > 1 + tolerance):
        raise MetricInputError(f'{metric} cannot score {name}: values must be normalized to [0, 1], '
                               f'they span [{low:.4g}, {high:.4g}].')


def check_size(tensor, metric, img):
    smallest = MIN_SIDE.get(metric, 1)
    height, width = tensor.shape[-2:]
    if min(height, width) < smallest:
        raise MetricInputError(f'{metric} cannot score {describe(img)}: it is {width}x{height} pixels, and '
                               f'{metric} needs at least {smallest}x{smallest}.')


def read_strictly(to_batched_tensor):
    """``InferenceModel._to_batched_tensor`` with the behaviour of the module doc."""

    def strict_to_batched_tensor(self, img):
        if torch.is_tensor(img):
            check_tensor(img, self.metric_name, self.eps if getattr(self, 'check_input_range', True) else None)
            tensor = img if img.dim() == 4 else img[None]
            if tensor.dtype in (torch.float16, torch.bfloat16):
                tensor = tensor.float()
        else:
            ours = is_ours(type(self.net))
            if ours or isinstance(img, (str, bytes, np.ndarray)):
                tensor = read_for_metric(img, ours)
            else:
                tensor = to_batched_tensor(self, img)
        check_size(tensor, self.metric_name, img)
        return tensor

    strict_to_batched_tensor.reads_strictly = True
    strict_to_batched_tensor.__wrapped__ = to_batched_tensor
    return strict_to_batched_tensor


def finite_scores(forward):
    """``InferenceModel.forward`` that refuses to return a score that is not finite (module doc)."""

    def checked_forward(self, target, ref=None, **kwargs):
        output = forward(self, target, ref, **kwargs)
        scores = output[0] if isinstance(output, tuple) else output
        if torch.is_tensor(scores) and scores.is_floating_point() and not torch.isfinite(scores).all():
            raise MetricInputError(
                f'{self.metric_name} gives no finite score for {describe(target)} (it cannot score this image: '
                'a flat or black one, for instance).')
        return output

    checked_forward.reads_strictly = True
    checked_forward.__wrapped__ = forward
    return checked_forward


def install(inference_model_module):
    """Wrap ``InferenceModel._to_batched_tensor`` and ``forward`` of pyiqa's (just imported) module; idempotent."""
    cls = inference_model_module.InferenceModel
    if not getattr(cls._to_batched_tensor, 'reads_strictly', False):
        cls._to_batched_tensor = read_strictly(cls._to_batched_tensor)
    if not getattr(cls.forward, 'reads_strictly', False):
        cls.forward = finite_scores(cls.forward)
