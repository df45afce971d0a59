"""Reading the official DepictQA-Wild files.

A release ``ckpt.pt`` is a *delta*: an OrderedDict of fp16 tensors holding only what was trained,
the projector ``vision_proj.{weight,bias}``, the abstractor (``abstractor.query_embeds``,
``abstractor.abstractor.layers.*``) and the LoRA matrices
``llm.base_model.model.model.layers.{i}.self_attn.{q,k,v,o}_proj.lora_{A,B}.default.weight``
(peft naming). Our network names its modules so that its trainable state dict has exactly these
keys: ``weights.load_trained(..., expect='trainable', rename=normalise_delta_keys)`` loads it.
The base parts come from elsewhere: Vicuna-7B-v1.5 and CLIP ViT-L/14 (the Hugging Face
``openai/clip-vit-large-patch14`` weights, or an OpenAI-layout state dict converted here).
"""
import re

import torch
from transformers import CLIPVisionConfig, CLIPVisionModel

from pyiqa_uniqa.weights import WeightsError, read_state_dict

_LORA_WITHOUT_ADAPTER = re.compile(r'(\.lora_[AB])\.weight$')


def normalise_delta_keys(state):
    """Strip DDP/DeepSpeed ``module.``; add peft's adapter name to LoRA keys saved without it."""
    normalised = {}
    for key, value in state.items():
        key = key.removeprefix('module.')
        if '.lora_' in key and '.default.' not in key:
            key = _LORA_WITHOUT_ADAPTER.sub(r'\1.default.weight', key)
        normalised[key] = value
    return normalised


# --- OpenAI CLIP layout -> transformers CLIPVisionModel ------------------------------------------
_BLOCK_RENAMES = {
    'attn.out_proj': 'self_attn.out_proj', 'ln_1': 'layer_norm1', 'ln_2': 'layer_norm2',
    'mlp.c_fc': 'mlp.fc1', 'mlp.c_proj': 'mlp.fc2',
}


def openai_vision_to_hf(state):
    """Convert the ``visual.*`` part of an OpenAI-layout CLIP state dict to CLIPVisionModel keys.

    Returns (hf_state, config_kwargs). Heads follow OpenAI's rule (width / 64); the activation is
    QuickGELU, as in every OpenAI checkpoint.
    """
    visual = {k[len('visual.'):]: v for k, v in state.items() if k.startswith('visual.')}
    if 'conv1.weight' not in visual:
        raise WeightsError('not an OpenAI-layout CLIP checkpoint: no visual.conv1.weight')
    width, _, patch, _ = visual['conv1.weight'].shape
    layers = 1 + max(int(k.split('.')[2]) for k in visual if k.startswith('transformer.resblocks.'))
    grid = round((visual["positional_embedding"].shape[0] - 1) ** 0.5)
    hf = {
        'embeddings.patch_embedding.weight': visual['conv1.weight'],
        'embeddings.class_embedding': visual['class_embedding'],
        'embeddings.position_embedding.weight': visual['positional_embedding'],
        'pre_layrnorm.weight': visual['ln_pre.weight'], 'pre_layrnorm.bias': visual['ln_pre.bias'],
        'post_layernorm.weight': visual['ln_post.weight'], 'post_layernorm.bias': visual['ln_post.bias'],
    }
    for i in range(layers):
        old, new = f'transformer.resblocks.{i}.', f'encoder.layers.{i}.'
        for kind in ('weight', 'bias'):
            q, k, v = visual[old + f'attn.in_proj_{kind}'].chunk(3)
            hf.update({new + f'self_attn.q_proj.{kind}': q, new + f'self_attn.k_proj.{kind}': k,
                       new + f'self_attn.v_proj.{kind}': v})
            for source, target in _BLOCK_RENAMES.items():
                hf[new + f'{target}.{kind}'] = visual[old + f'{source}.{kind}']
    config = dict(hidden_size=width, intermediate_size=visual['transformer.resblocks.0.mlp.c_fc.weight'].shape[0],
                  num_hidden_layers=layers, num_attention_heads=max(1, width // 64), image_size=grid * patch,
                  patch_size=patch, hidden_act='quick_gelu', layer_norm_eps=1e-5)
    return hf, config


def load_openai_vision(path):
    """A CLIPVisionModel built from an OpenAI-layout state dict file (e.g. ViT-L-14 re-saved)."""
    hf, config = openai_vision_to_hf(read_state_dict(path))
    model = CLIPVisionModel(CLIPVisionConfig(**config))
    model.load_state_dict({k: v.to(torch.float32) for k, v in hf.items()}, strict=True)
    return model
