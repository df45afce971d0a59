"""Write random CLIP checkpoints in the exact layout of the official ``UniQA_weight.pt``.

That file is a flat OpenAI-CLIP state dict (302 keys for ViT-B/16, no wrapper, no ``module.``),
saved after OpenAI's fp16 conversion: conv, linear and attention weights and the two projections
in fp16; layer norms, embeddings and ``logit_scale`` in fp32.
"""
import torch

from pyiqa_uniqa.backbones.openai_layout import openai_dtype

GEOMETRIES = {'ViT-B-16': 'ViT-B-16-quickgelu', 'tiny': 'tiny-clip-quickgelu'}


def write_official_clip_checkpoint(path, geometry='tiny', seed=0):
    """Write a random checkpoint of ``geometry`` ('ViT-B-16' or 'tiny') to ``path``; return the path."""
    from pyiqa_uniqa.backbones.clip import create_clip
    model = create_clip(GEOMETRIES[geometry], seed=seed)  # 'random' weights, seeded
    state_dict = {k: v.detach().to(openai_dtype(k)).clone() for k, v in model.state_dict().items()}
    torch.save(state_dict, path)
    return path
