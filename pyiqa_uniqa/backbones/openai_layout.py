"""The dtypes of a flat OpenAI-layout CLIP state dict (the layout of the official ``UniQA_weight.pt``).

open_clip's ``CLIP`` keeps OpenAI's key names, so a model built from the same config checks such a
file key by key (``pyiqa_uniqa.weights.check_state_dict``); what differs is the storage dtype,
which matters when writing files in that layout.
"""
import torch

# OpenAI's fp16 conversion (kept by the official UniQA_weight.pt) leaves these in fp32
_FP32_MARKERS = ('ln_', 'embedding', 'logit_scale')


def openai_dtype(key):
    """The dtype OpenAI-layout files store ``key`` in: fp32 for norms, embeddings and logit_scale,
    fp16 for conv, linear and attention weights and the two projections."""
    return torch.float32 if any(m in key for m in _FP32_MARKERS) else torch.float16
