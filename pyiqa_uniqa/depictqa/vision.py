"""Visual tokens for the LM: CLIP patch tokens at the image's own resolution, then a projector.

DepictQA takes the last transformer block's patch tokens (CLS dropped, before ``post_layernorm``
and before CLIP's projection). The 2-D grid of position embeddings is resized bicubically with
``align_corners=True`` to each image's H/patch x W/patch grid; Hugging Face's own
``interpolate_pos_encoding`` uses ``align_corners=False`` (and skips square inputs), which would
shift every feature, so the embedding step is done here.
"""
import torch
import torch.nn.functional as F
from torch import nn


def build_vision_encoder(vision, openai_weights=None, seed=0):
    """A ``transformers.CLIPVisionModel``: random from a config dict, or loaded from an id/folder."""
    from transformers import CLIPVisionConfig, CLIPVisionModel
    if openai_weights is not None:
        from pyiqa_uniqa.depictqa.official_checkpoint import load_openai_vision
        return load_openai_vision(openai_weights)
    if isinstance(vision, dict):
        torch.manual_seed(seed)
        return CLIPVisionModel(CLIPVisionConfig(**vision))
    return CLIPVisionModel.from_pretrained(vision, local_files_only=True, trust_remote_code=False)


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
    """Learned queries that cross-attend to the patch tokens: a fixed token count per image."""

    def __init__(self, width, settings):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(settings.num_queries, width) * 0.02)
        layer = nn.TransformerDecoderLayer(width, settings.num_heads, settings.ffn_dim, settings.dropout,
                                           batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, settings.num_layers)

    def forward(self, tokens):
        queries = self.queries.unsqueeze(0).expand(tokens.shape[0], -1, -1).to(tokens.dtype)
        return self.decoder(queries, tokens)
