"""An independent re-computation of the official UniQA forward, for the fidelity tests.

Written from the maths of the official ``UniQA_Adapter_Patchtest*`` classes and their modified
OpenAI CLIP using plain tensor ops on the raw state-dict tensors:
no open_clip module and none of our package's code runs here (only open_clip's tokenizer, which
is token-identical to OpenAI's). Conventions of the official code kept on purpose: sequence-first
transformer, QuickGELU, class token through ``ln_post`` then ``proj``, the positional table
resized with 2-D bicubic interpolation over (tokens, width) when ``pos_embedding`` is True and not
added at all when it is False, softmax over each group of five prompts, learnable level values,
groups averaged, and crops stacked crop-major then averaged.
"""
import math

import torch
import torch.nn.functional as F

MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


def _layer_norm(x, sd, prefix):
    return F.layer_norm(x, x.shape[-1:], sd[prefix + '.weight'], sd[prefix + '.bias'], eps=1e-5)


def _attention(x, sd, prefix, heads, mask=None):
    length, batch, width = x.shape
    qkv = x @ sd[prefix + '.in_proj_weight'].t() + sd[prefix + '.in_proj_bias']
    q, k, v = (t.reshape(length, batch, heads, width // heads).permute(1, 2, 0, 3) for t in qkv.chunk(3, dim=-1))
    weights = q @ k.transpose(-1, -2) / math.sqrt(width // heads)
    if mask is not None:
        weights = weights + mask
    out = (weights.softmax(dim=-1) @ v).permute(2, 0, 1, 3).reshape(length, batch, width)
    return out @ sd[prefix + '.out_proj.weight'].t() + sd[prefix + '.out_proj.bias']


def _residual_blocks(x, sd, prefix, heads, mask=None):
    layers = len({k.split('.')[len(prefix.split('.'))] for k in sd if k.startswith(prefix + '.')})
    for i in range(layers):
        block = f'{prefix}.{i}'
        x = x + _attention(_layer_norm(x, sd, block + '.ln_1'), sd, block + '.attn', heads, mask)
        hidden = _layer_norm(x, sd, block + '.ln_2') @ sd[block + '.mlp.c_fc.weight'].t() + sd[block + '.mlp.c_fc.bias']
        hidden = hidden * torch.sigmoid(1.702 * hidden)  # QuickGELU
        x = x + hidden @ sd[block + '.mlp.c_proj.weight'].t() + sd[block + '.mlp.c_proj.bias']
    return x


def official_image_features(sd, images, pos_embedding, heads):
    x = (images - MEAN) / STD
    patch = sd['visual.conv1.weight'].shape[-1]
    x = F.conv2d(x, sd['visual.conv1.weight'], stride=patch)
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    cls = sd['visual.class_embedding'] + torch.zeros(x.shape[0], 1, x.shape[-1])
    x = torch.cat([cls, x], dim=1)
    if pos_embedding:
        table = sd['visual.positional_embedding'][None, None]
        x = x + F.interpolate(table, size=(x.shape[1], x.shape[2]), mode='bicubic')[0, 0]
    x = _layer_norm(x, sd, 'visual.ln_pre').permute(1, 0, 2)
    x = _residual_blocks(x, sd, 'visual.transformer.resblocks', heads).permute(1, 0, 2)
    return _layer_norm(x[:, 0, :], sd, 'visual.ln_post') @ sd['visual.proj']


def official_text_features(sd, tokens, heads):
    x = sd['token_embedding.weight'][tokens] + sd['positional_embedding']
    context = x.shape[1]
    mask = torch.full((context, context), float('-inf')).triu_(1)
    x = _residual_blocks(x.permute(1, 0, 2), sd, 'transformer.resblocks', heads, mask).permute(1, 0, 2)
    x = _layer_norm(x, sd, 'ln_final')
    return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ sd['text_projection']


def official_scores(clip_sd, head_sd, images, prompts, pos_embedding, vision_heads, text_heads):
    """Scores [N, 1] for ``images`` already cropped, as the official ``forward_image``."""
    import open_clip

    sd = {k: v.float() for k, v in clip_sd.items()}
    f = official_image_features(sd, images, pos_embedding, vision_heads)
    if 'adapter.fc.0.weight' in head_sd:
        f = f + torch.relu(torch.relu(f @ head_sd['adapter.fc.0.weight'].t()) @ head_sd['adapter.fc.2.weight'].t())
    t = official_text_features(sd, open_clip.tokenize(list(prompts)), text_heads)
    f = f / f.norm(dim=-1, keepdim=True)
    t = t / t.norm(dim=-1, keepdim=True)
    logits = sd['logit_scale'].exp() * f @ t.t()
    probs = logits.reshape(f.shape[0], -1, 5).softmax(dim=-1)
    return (probs * head_sd['score_level']).sum(dim=-1).mean(dim=-1).reshape(-1, 1)


def official_crop_scores(clip_sd, head_sd, images, offsets, size, **kw):
    """The official test-time average over crops at ``offsets`` (crop-major stacking)."""
    crops = torch.cat([images[:, :, i:i + size, j:j + size] for i, j in offsets])
    scores = official_scores(clip_sd, head_sd, crops, **kw)
    return scores.reshape(len(offsets), images.shape[0]).mean(dim=0).unsqueeze(-1)
