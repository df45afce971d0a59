"""The UniQA image forward over open_clip's ViT modules, with the official positional switch.

The official UniQA code runs a modified OpenAI ``VisionTransformer`` whose forward takes a
``pos_embedding`` flag:

- ``True``: the learned positional embedding, an ``[L, width]`` table, is added after resizing it
  *as a 2-D array* with bicubic interpolation to ``[tokens, width]``. That is a 1-D resample along
  the token axis (not open_clip's 2-D grid resample); at the native input size it is the identity,
  so it only matters for inputs that are not the configured size (e.g. training on 384 crops).
- ``False`` (the constructor default of the official prompt-ensemble and AIGC classes): no
  positional embedding is added at all.

open_clip's ``VisionTransformer.forward`` always adds the embedding and only accepts its native
size, so this module walks the same submodules itself (``conv1``, class token, ``ln_pre``,
``transformer``, ``ln_post``/pooling, ``proj``). With ``pos_embedding=True`` at the native size
it computes exactly what ``visual(x)`` computes (the tests check this).
"""
import torch
import torch.nn.functional as F


def official_positional_embedding(table, num_tokens):
    """The official rule: bicubic resize of the ``[L, width]`` table to ``[num_tokens, width]``."""
    if table.shape[0] == num_tokens:
        return table  # the official interpolation is an exact identity here; skip the work
    resized = F.interpolate(table[None, None], size=(num_tokens, table.shape[1]), mode='bicubic')
    return resized[0, 0]


def encode_image(visual, pixels, pos_embedding=True):
    """Image features ``[N, embed_dim]`` (not normalised) from CLIP-normalised ``pixels``."""
    if not hasattr(visual, 'conv1') or getattr(visual, 'attn_pool', None) is not None:
        raise TypeError(
            f'UniQA needs a plain CLIP VisionTransformer image tower, got {type(visual).__name__}.')
    tokens = visual.conv1(pixels.to(visual.conv1.weight.dtype))  # [N, width, gh, gw]
    tokens = tokens.flatten(2).transpose(1, 2)  # [N, gh*gw, width]
    class_token = visual.class_embedding.to(tokens.dtype).expand(tokens.shape[0], 1, -1)
    tokens = torch.cat([class_token, tokens], dim=1)
    if pos_embedding:
        tokens = tokens + official_positional_embedding(
            visual.positional_embedding, tokens.shape[1]).to(tokens.dtype)
    tokens = visual.patch_dropout(tokens)
    tokens = visual.ln_pre(tokens)
    tokens = visual.transformer(tokens)
    pooled, _ = visual._pool(tokens)  # ln_post + class-token pooling, as configured by open_clip
    if visual.proj is not None:
        pooled = pooled @ visual.proj
    return pooled
