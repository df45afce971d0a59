"""Encode fixed prompts once.

A frozen text tower gives the same features for the same prompts on every forward, so they are
computed once under ``no_grad`` and kept, in the tower's own precision: autocast is switched off
while they are encoded, since a first call from inside a half-precision training step would
otherwise fix bf16/fp16 features for every later fp32 validation and scoring. The cache key includes a fingerprint of the text tower's
weights (storage address and in-place version counter of each tensor), so loading new weights or
moving the model invalidates it without anyone having to remember to.
"""
import weakref

import torch

from pyiqa_uniqa.backbones.frozen import tensor_state

_cache = weakref.WeakKeyDictionary()  # model -> {(prompts, fingerprint, device): features}


def _text_tower_fingerprint(model):
    return tensor_state([p for name, p in model.named_parameters() if not name.startswith('visual.')])


def encode_prompts(model, tokenizer, prompts):
    """Text features [N, D] (not normalised) for ``prompts``, computed once per model and weights."""
    prompts = tuple(prompts)
    key = (prompts, _text_tower_fingerprint(model))
    per_model = _cache.setdefault(model, {})
    if key not in per_model:
        device = next(model.parameters()).device
        with torch.no_grad(), torch.autocast(device.type, enabled=False):
            features = model.encode_text(tokenizer(list(prompts)).to(device))
        per_model.clear()  # keep only the features for the current weights
        per_model[key] = features
    return per_model[key]
