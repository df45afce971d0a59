"""pyiqa's own image reading, made to fail clearly: ``create_metric(...)(path)`` and the ``pyiqa`` CLI.

pyiqa's ``InferenceModel`` turns a path, a file's bytes or a PIL image into a tensor with
``imread2tensor(img, rgb=True)``: ``Image.open`` then ``convert('RGB')``. A truncated file then
raises ``OSError: Truncated File Read`` without its name, or, once pyiqa's AVA dataset module has
switched PIL's global ``LOAD_TRUNCATED_IMAGES`` on, is scored silently as a grey-padded image; a
file of a billion pixels is decoded until memory runs out (PIL only warns below 179M pixels).

The start-up hook (``pyiqa_uniqa/hook.py``) wraps ``InferenceModel._to_batched_tensor`` when pyiqa
imports it, and changes only this:

- pyiqa's own metrics: the file is decoded by ``open_image`` (strict decoding, the pixel limit read
  from the header, errors naming the file), then converted by pyiqa's own ``imread2tensor`` exactly
  as before; tensors and every other input go to pyiqa untouched.
- this package's metrics: the one reader (``read_image``), so a picture scores the same whether it
  comes as a path, a PIL image or an array (transparent pixels on white, 16-bit by bit depth,
  where ``convert('RGB')`` would drop the alpha and clip 16-bit values at 255).
"""
import io

import torch
from pyiqa.utils.img_util import imread2tensor

from pyiqa_uniqa.data.images import image_to_tensor, open_image


def is_ours(network_class):
    """Whether a network class is this package's (read by ``read_image``) rather than pyiqa's."""
    return network_class.__module__.startswith('pyiqa_uniqa.')


def read_for_metric(img, ours):
    """The [1, 3, H, W] tensor ``create_metric(...)(img)`` scores for a path or a file's bytes (and,
    for this package's metrics, a PIL image or an array): the rule of the module doc. ``ours``:
    ``is_ours`` of the metric's network class."""
    if ours:
        return image_to_tensor(img)[None]
    return imread2tensor(open_image(io.BytesIO(img) if isinstance(img, bytes) else img), rgb=True)[None]


def read_strictly(to_batched_tensor):
    """``InferenceModel._to_batched_tensor`` with the behaviour of the module doc."""

    def strict_to_batched_tensor(self, img):
        if torch.is_tensor(img):
            return to_batched_tensor(self, img)
        ours = is_ours(type(self.net))
        if ours or isinstance(img, (str, bytes)):
            return read_for_metric(img, ours)
        return to_batched_tensor(self, img)

    strict_to_batched_tensor.reads_strictly = True
    strict_to_batched_tensor.__wrapped__ = to_batched_tensor
    return strict_to_batched_tensor


def install(inference_model_module):
    """Wrap ``InferenceModel._to_batched_tensor`` of pyiqa's (just imported) module; idempotent."""
    cls = inference_model_module.InferenceModel
    if not getattr(cls._to_batched_tensor, 'reads_strictly', False):
        cls._to_batched_tensor = read_strictly(cls._to_batched_tensor)
