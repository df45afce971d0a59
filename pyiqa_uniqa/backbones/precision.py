"""Numeric precision: one vocabulary for frozen towers (every metric's ``precision`` argument) and
for adapter training (``train.precision`` of ``FrozenBackboneIQAModel``).

``'fp32'``, ``'fp16'`` or ``'bf16'``. A half precision runs the frozen tower under
``torch.autocast`` (matrix products and convolutions in half, reductions and norms in fp32, as
autocast decides), which on a GPU runs a ViT about twice as fast; the default everywhere is
``'fp32'``, and on CPU fp32 is also the fastest. ``'fp32'`` adds no autocast of its own: a tower
scoring on its own runs in fp32, and inside a mixed-precision training step it runs at the
step's precision (the tower is most of an adapter's compute, so that is where the step's speed
comes from). Features leave a half-precision tower in half; trainable parts take them back to
fp32 (``features.float()``).

Training also accepts ``'auto'``: bf16 on a GPU that supports it, else fp16 there (with a gradient
scaler, since fp16 gradients underflow), and fp32 on CPU.
"""
import contextlib

import torch

from pyiqa_uniqa.errors import InvalidOptionError

PRECISIONS = ('fp32', 'fp16', 'bf16')
DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


class PrecisionError(InvalidOptionError):
    """A precision that is not in the vocabulary, or that the device cannot run."""


def check_precision(precision, device, what='precision'):
    """``precision`` if ``device`` can run it, else PrecisionError saying what to use instead."""
    if precision not in PRECISIONS:
        raise PrecisionError(f'{what} must be one of {", ".join(PRECISIONS)}, not {precision!r}.')
    device = torch.device(device)
    if precision == 'fp32':
        return precision
    if not torch.amp.is_autocast_available(device.type):
        raise PrecisionError(f'{what} {precision!r} needs torch.autocast, which torch does not offer on '
                             f'{device.type}; use fp32.')
    if precision == 'bf16' and device.type == 'cuda' and not torch.cuda.is_bf16_supported():
        raise PrecisionError(f'{what} bf16 is not supported by {torch.cuda.get_device_name(device)}; use fp16 '
                             '(or fp32).')
    return precision


def training_precision(choice, device):
    """The precision of a training step: ``choice`` checked, ``'auto'`` resolved (module doc)."""
    device = torch.device(device)
    if choice == 'auto':
        if device.type != 'cuda':
            return 'fp32'
        return 'bf16' if torch.cuda.is_bf16_supported() else 'fp16'
    return check_precision(choice, device, what='train.precision')


def frozen_autocast(precision, device):
    """The context a frozen tower runs in: autocast to ``precision``, nothing for fp32."""
    device = torch.device(device)
    if check_precision(precision, device) == 'fp32':
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])
