"""CoOp-style learnable context for the quality-level prompts "<context> <level>.".

Only the context vectors are parameters: one context shared by every level ([n_ctx, D], the
official default) or one per level ([levels, n_ctx, D], the official ``CSC True``). The start token
and the "<level>." + end-of-text token embeddings come from the frozen CLIP's embedding table once,
as non-persistent buffers, so a checkpoint holds the context alone and the class words follow
whatever CLIP is loaded.
"""
import torch
from torch import nn

from pyiqa_uniqa.errors import InvalidOptionError


class PromptLearner(nn.Module):
    """context_init: words whose embeddings start the context (the official ``_ctxv1`` configs'
    'a photo of a'); empty/None: ``n_ctx`` random vectors (std 0.02), the official default (16).
    class_specific: one random context per level (needs an empty ``context_init``, as officially)."""

    def __init__(self, clip_model, tokenizer, class_names, context_init='', n_ctx=16, class_specific=False):
        super().__init__()
        if not class_names:
            raise InvalidOptionError('class_names must list at least one quality level.')
        if class_specific and context_init:
            raise InvalidOptionError('class_specific context starts from random vectors: set context_init to "".')
        embedding = clip_model.token_embedding
        if context_init:
            context_init = context_init.replace('_', ' ').strip()
            n_ctx = len(tokenizer([context_init])[0].nonzero()) - 2  # minus start and end tokens
            with torch.no_grad():
                context = embedding(tokenizer([context_init]).to(embedding.weight.device))[0, 1:1 + n_ctx].clone()
            placeholder = context_init
        else:
            width = embedding.weight.shape[1]
            shape = (len(class_names), n_ctx, width) if class_specific else (n_ctx, width)
            context = torch.empty(shape).normal_(std=0.02)
            placeholder = ' '.join(['X'] * n_ctx)
        self.ctx = nn.Parameter(context.float())
        self.class_names = list(class_names)
        tokens = tokenizer([f'{placeholder} {name}.' for name in self.class_names]).to(embedding.weight.device)
        with torch.no_grad():
            embedded = embedding(tokens).float()
        self.register_buffer('tokens', tokens, persistent=False)
        self.register_buffer('token_prefix', embedded[:, :1], persistent=False)
        self.register_buffer('token_suffix', embedded[:, 1 + n_ctx:], persistent=False)

    def forward(self):
        """Prompt embeddings [C, L, W] (gradient flows to ``ctx``)."""
        context = self.ctx if self.ctx.dim() == 3 else self.ctx.unsqueeze(0).expand(len(self.class_names), -1, -1)
        return torch.cat([self.token_prefix, context, self.token_suffix], dim=1)


def encode_text_embeddings(clip_model, prompt_embeddings, tokens):
    """open_clip's text tower from token *embeddings* instead of token ids (argmax pooling at the
    end-of-text token, as OpenAI CLIP). Gradients reach the embeddings; frozen weights get none."""
    cast_dtype = clip_model.transformer.get_cast_dtype()
    x = prompt_embeddings.to(cast_dtype) + clip_model.positional_embedding.to(cast_dtype)
    x = clip_model.transformer(x, attn_mask=clip_model.attn_mask)
    x = clip_model.ln_final(x)
    x = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
    projection = clip_model.text_projection
    return projection(x) if isinstance(projection, nn.Linear) else x @ projection
