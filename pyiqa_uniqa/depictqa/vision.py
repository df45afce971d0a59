"""Visual tokens for the LM: CLIP patch tokens at the image's own resolution, then a projector.

DepictQA takes the last transformer block's patch tokens (CLS dropped, before ``post_layernorm``
and before CLIP's projection). The 2-D grid of position embeddings is resized bicubically with
``align_corners=True`` to each image's H/patch x W/patch grid; Hugging Face's own
``interpolate_pos_encoding`` uses ``align_corners=False`` (and skips square inputs), which would
shift every feature, so the embedding step is done here.
"""
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModel

from pyiqa_uniqa.depictqa.official_checkpoint import load_openai_vision
from pyiqa_uniqa.depictqa.sources import vision_weights
from pyiqa_uniqa.weights import RANDOM

# the CLIPVisionConfig fields that define the tower's shape (what a saved config keeps)
GEOMETRY_FIELDS = ('hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'image_size',
                   'patch_size', 'hidden_act', 'layer_norm_eps')


def build_vision_encoder(geometry, weights=None, seed=0):
    """A ``transformers.CLIPVisionModel`` from ``backbone_weights`` (see ``DepictQAConfig``).

    ``'random'`` builds ``geometry`` (CLIPVisionConfig fields) with a seeded local RNG; a Hugging
    Face id or folder loads that model (never downloading it); a file is an OpenAI-layout state dict.
    """
    source = vision_weights(weights)
    if source == RANDOM:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return CLIPVisionModel(CLIPVisionConfig(**geometry))
    if isinstance(source, Path) and source.is_file():
        return load_openai_vision(source)
    return CLIPVisionModel.from_pretrained(source, local_files_only=True, trust_remote_code=False)


def geometry_of(encoder):
    """The tower's ``GEOMETRY_FIELDS``, to rebuild it without its weights."""
    return {name: getattr(encoder.config, name) for name in GEOMETRY_FIELDS}


def patch_tokens(encoder, pixels):
    """[B, 3, H, W] normalised pixels (H, W multiples of the patch) -> [B, (H/p)*(W/p), width]."""
    embeddings = encoder.embeddings
    patch_size = embeddings.patch_size
    grid_h, grid_w = pixels.shape[-2] // patch_size, pixels.shape[-1] // patch_size
    weight = embeddings.patch_embedding.weight
    patches = embeddings.patch_embedding(pixels.to(weight.dtype)).flatten(2).transpose(1, 2)
    cls = embeddings.class_embedding.expand(pixels.shape[0], 1, -1).to(patches.dtype)
    positions = embeddings.position_embedding.weight
    side = round((positions.shape[0] - 1) ** 0.5)
    grid = positions[1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=(grid_h, grid_w), mode='bicubic', align_corners=True)
    positions = torch.cat([positions[:1], grid.to(positions.dtype).flatten(2).transpose(1, 2)[0]])
    hidden = torch.cat([cls, patches], dim=1) + positions.unsqueeze(0)
    hidden = encoder.encoder(inputs_embeds=encoder.pre_layrnorm(hidden)).last_hidden_state
    return hidden[:, 1:]


class Abstractor(nn.Module):
    """The official abstractor: learned queries cross-attend to the patch tokens (a fixed count per image).

    Names and shapes are the official module's, so a released ``ckpt.pt`` loads unchanged:
    ``query_embeds`` [Q, 1, D] (sequence-first) and ``abstractor``, an ``nn.TransformerDecoder`` of
    post-norm ReLU layers (keys ``abstractor.query_embeds``, ``abstractor.abstractor.layers.{i}.*``).
    The official sinusoidal position embedding is off in every released config (CLIP's patch tokens
    already carry positions) and is not offered. New queries start as ``randn``, as the official.
    """

    def __init__(self, width, settings):
        super().__init__()
        layer = nn.TransformerDecoderLayer(width, settings.num_heads, settings.ffn_dim, settings.dropout)
        self.abstractor = nn.TransformerDecoder(layer, settings.num_layers)
        self.query_embeds = nn.Parameter(torch.randn(settings.num_queries, 1, width))

    def forward(self, tokens):
        """[B, N, D] -> [B, Q, D]."""
        queries = self.query_embeds.expand(-1, tokens.shape[0], -1).to(tokens.dtype)
        return self.abstractor(queries, tokens.transpose(0, 1)).transpose(0, 1)
