"""Check a flat OpenAI-layout CLIP state dict (the layout of the official ``UniQA_weight.pt``).

open_clip's ``CLIP`` keeps OpenAI's key names, so a model built from the same config is the
reference: same key set, same shapes. Everything wrong is reported at once, so a user fixes the
file in one go.
"""


import torch

# OpenAI's fp16 conversion (kept by the official UniQA_weight.pt) leaves these in fp32
_FP32_MARKERS = ('ln_', 'embedding', 'logit_scale')


def openai_dtype(key):
    """The dtype OpenAI-layout files store ``key`` in: fp32 for norms, embeddings and logit_scale,
    fp16 for conv, linear and attention weights and the two projections."""
    return torch.float32 if any(m in key for m in _FP32_MARKERS) else torch.float16


class CheckpointMismatchError(ValueError):
    """A state dict does not fit the model it is meant for."""


def check_openai_state_dict(state_dict, reference_state_dict, source='checkpoint', model_name=''):
    expected = dict(reference_state_dict)
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong_shape = [
        f'{key}: file {tuple(state_dict[key].shape)} vs model {tuple(expected[key].shape)}'
        for key in sorted(set(expected) & set(state_dict))
        if tuple(state_dict[key].shape) != tuple(expected[key].shape)
    ]
    if not (missing or unexpected or wrong_shape):
        return
    parts = [f'{source} does not fit {model_name or "the model"} '
             f'({len(state_dict)} keys in the file, {len(expected)} expected).']
    for title, items in (('missing keys', missing), ('unexpected keys', unexpected),
                         ('wrong shapes', wrong_shape)):
        if items:
            shown = ', '.join(items[:10]) + (f', ... ({len(items) - 10} more)' if len(items) > 10 else '')
            parts.append(f'{len(items)} {title}: {shown}.')
    if 'visual.conv1.weight' in state_dict and wrong_shape:
        patch = tuple(state_dict['visual.conv1.weight'].shape)
        parts.append(f'The file\'s patch embedding is {patch}: is it a different CLIP geometry?')
    raise CheckpointMismatchError(' '.join(parts))
