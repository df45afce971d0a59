"""An independent re-computation of the official CLIP-AGIQA forward, for the fidelity tests.

Written from the official ``CustomCLIP`` (github.com/wzczc/CLIP-AGIQA, trainers/clip_agiqa.py) and
the OpenAI CLIP it wraps, with plain tensor ops on the raw tensors of the files: no open_clip module
and none of our package's code runs here (only open_clip's tokenizer, which is token-identical to
OpenAI's). What the official code does, kept here:

- prompts ``"X X ... X <level>."`` (or the ``CTX_INIT`` words), class token at the end: the start
  token's embedding, the context (one shared [n_ctx, D] or one per level [C, n_ctx, D]), then the
  embeddings of ``<level>.``, the end token and the padding;
- text tower sequence-first with a causal mask, QuickGELU, ``ln_final``, the end-token row (the
  token with the largest id) times ``text_projection``;
- image tower: patches, class token, position table, ``ln_pre``, blocks, ``ln_post`` of the class
  token times ``proj``;
- both features L2-normalised; for each image ``cat(image [1, D], text [C, D]).flatten()`` goes
  through Dropout, Linear, ReLU, Dropout, Linear (``regression``; dropout is off in eval).
Images are given already at the model's input size, in [0, 1] (the official test transform ends in
``ToTensor`` then CLIP's mean/std).
"""
import math

import torch
import torch.nn.functional as F

MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


def _norm(x, sd, name):
    return F.layer_norm(x, x.shape[-1:], sd[f'{name}.weight'], sd[f'{name}.bias'], eps=1e-5)


def _blocks(x, sd, prefix, heads, mask=None):
    """OpenAI CLIP's residual attention blocks on a [L, N, W] sequence."""
    depth = 1 + max(int(k[len(prefix) + 1:].split('.')[0]) for k in sd if k.startswith(prefix + '.'))
    length, batch, width = x.shape
    for i in range(depth):
        p = f'{prefix}.{i}'
        q, k, v = (_norm(x, sd, f'{p}.ln_1') @ sd[f'{p}.attn.in_proj_weight'].t()
                   + sd[f'{p}.attn.in_proj_bias']).chunk(3, dim=-1)
        q, k, v = (t.reshape(length, batch * heads, width // heads).transpose(0, 1) for t in (q, k, v))
        logits = q @ k.transpose(1, 2) / math.sqrt(width // heads)
        if mask is not None:
            logits = logits + mask
        attended = (logits.softmax(dim=-1) @ v).transpose(0, 1).reshape(length, batch, width)
        x = x + attended @ sd[f'{p}.attn.out_proj.weight'].t() + sd[f'{p}.attn.out_proj.bias']
        hidden = _norm(x, sd, f'{p}.ln_2') @ sd[f'{p}.mlp.c_fc.weight'].t() + sd[f'{p}.mlp.c_fc.bias']
        hidden = hidden * torch.sigmoid(1.702 * hidden)
        x = x + hidden @ sd[f'{p}.mlp.c_proj.weight'].t() + sd[f'{p}.mlp.c_proj.bias']
    return x


def image_features(sd, images, heads):
    """Official ``clip_model.visual`` on [N, 3, S, S] images in [0, 1] (S = the input size)."""
    weight = sd['visual.conv1.weight']
    x = F.conv2d((images - MEAN) / STD, weight, stride=weight.shape[-1]).flatten(2).transpose(1, 2)
    x = torch.cat([sd['visual.class_embedding'].expand(x.shape[0], 1, -1), x], dim=1)
    x = _norm(x + sd['visual.positional_embedding'], sd, 'visual.ln_pre')
    x = _blocks(x.transpose(0, 1), sd, 'visual.transformer.resblocks', heads).transpose(0, 1)
    return _norm(x[:, 0], sd, 'visual.ln_post') @ sd['visual.proj']


def prompt_embeddings(ctx, token_prefix, token_suffix):
    """The official ``PromptLearner.forward`` with the class token at the end."""
    if ctx.dim() == 2:
        ctx = ctx.unsqueeze(0).expand(token_prefix.shape[0], -1, -1)
    return torch.cat([token_prefix, ctx, token_suffix], dim=1)


def text_features(sd, prompts, tokens, heads):
    """Official ``TextEncoder`` on prompt embeddings [C, L, D]."""
    length = prompts.shape[1]
    mask = torch.full((length, length), float('-inf')).triu_(1)
    x = prompts + sd['positional_embedding']
    x = _blocks(x.transpose(0, 1), sd, 'transformer.resblocks', heads, mask).transpose(0, 1)
    x = _norm(x, sd, 'ln_final')
    return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ sd['text_projection']


def regression(features, head):
    """The official ``regression`` head in eval mode (its dropouts are identities)."""
    hidden = torch.relu(features @ head['1.weight'].t() + head['1.bias'])
    return hidden @ head['4.weight'].t() + head['4.bias']


def official_scores(clip_sd, prompt_sd, head_sd, images, tokens, vision_heads, text_heads):
    """Scores [N] as ``CustomCLIP.forward`` in eval mode, computed in fp32 (the official PREC fp32)."""
    sd = {k: v.float() for k, v in clip_sd.items()}
    image = image_features(sd, images, vision_heads)
    prompts = prompt_embeddings(*(prompt_sd[k].float() for k in ('ctx', 'token_prefix', 'token_suffix')))
    text = text_features(sd, prompts, tokens, text_heads)
    image = image / image.norm(dim=-1, keepdim=True)
    text = text / text.norm(dim=-1, keepdim=True)
    features = torch.cat([image.unsqueeze(1), text.expand(image.shape[0], -1, -1)], dim=1).flatten(1)
    return regression(features, {k: v.float() for k, v in head_sd.items()}).squeeze(1)
