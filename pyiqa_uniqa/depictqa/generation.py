"""Batched, bounded decoding from input embeddings with a KV cache, as the official ``generate``.

The official code calls transformers' ``generate`` (4.35): greedy when the temperature is at most
1e-4, else sampling after temperature, top-k (transformers' default 50) and top-p, in that order.
The probability it reports for a token is the softmax of the *processed* scores at that token
(the raw logits when greedy). Every call stops after ``max_new_tokens`` (official: 400 for every
task) or at EOS in every row; an optional wall-clock cap (``max_time_s``, not in the official
code) ends a call early.

How a batch is padded is the caller's choice (``sequence.pad_batch``): masked left padding, or the
official EOS padding moved to the left and left unmasked. Positions follow the mask either way, so
the official batches get positions 0..L-1 over their padding, as there.
"""
import dataclasses
import time

import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.modeling_outputs import CausalLMOutputWithPast

SAMPLING_THRESHOLD = 1e-4  # official: do_sample = temperature > 1e-4
# transformers 5 renamed the KV cache argument and output field from past_key_values to cache
_CACHE = 'cache' if 'cache' in CausalLMOutputWithPast.__dataclass_fields__ else 'past_key_values'


@dataclasses.dataclass
class Generated:
    token_ids: list   # per row: the new tokens, up to and including EOS
    probs: list       # per row: the probability of each chosen token
    stopped_early: bool  # the time cap ended the search


def warpers(temperature, top_p, top_k):
    """transformers' sampling warpers in the order of its ``generate`` (empty when greedy)."""
    if temperature <= SAMPLING_THRESHOLD:
        return None
    chain = [TemperatureLogitsWarper(temperature)] if temperature != 1.0 else []
    if top_k:
        chain.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        chain.append(TopPLogitsWarper(top_p))
    return LogitsProcessorList(chain)


def _pick(logits, warp, history, generator):
    """-> (token, its probability under the distribution it was drawn from)."""
    if warp is None:
        scores = logits.float()
        token = scores.argmax(dim=-1)
    else:
        scores = warp(history, logits.float())
        token = torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator).squeeze(-1)
    return token, torch.softmax(scores, dim=-1).gather(-1, token[:, None]).squeeze(-1)


@torch.no_grad()
def generate(lm, embeds, attention_mask, eos_token_id, max_new_tokens, max_time_s=None,
             temperature=0.0, top_p=0.9, top_k=50, generator=None):
    """``embeds`` [B, L, D] left-padded, ``attention_mask`` [B, L] -> ``Generated``."""
    start = time.monotonic()
    batch = embeds.shape[0]
    warp = warpers(temperature, top_p, top_k)
    positions = (attention_mask.cumsum(-1) - 1).clamp_min(0)
    output = lm(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=positions, use_cache=True)
    finished = torch.zeros(batch, dtype=torch.bool, device=embeds.device)
    tokens, probs = [], []
    stopped_early = False
    for step in range(max_new_tokens):
        history = torch.stack(tokens, 1) if tokens else embeds.new_zeros(batch, 0, dtype=torch.long)
        token, prob = _pick(output.logits[:, -1], warp, history, generator)
        token = token.masked_fill(finished, eos_token_id)
        tokens.append(token)
        probs.append(prob.masked_fill(finished, 0.0))
        finished |= token == eos_token_id
        if bool(finished.all()) or step == max_new_tokens - 1:
            break
        if max_time_s is not None and time.monotonic() - start > max_time_s:
            stopped_early = True
            break
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(batch, 1)], dim=1)
        positions = positions[:, -1:] + 1
        output = lm(input_ids=token[:, None], attention_mask=attention_mask, position_ids=positions,
                    use_cache=True, **{_CACHE: getattr(output, _CACHE)})
    if not tokens:
        return Generated([[] for _ in range(batch)], [[] for _ in range(batch)], stopped_early)
    token_rows, prob_rows = torch.stack(tokens, 1).tolist(), torch.stack(probs, 1).tolist()
    trimmed_ids, trimmed_probs = [], []
    for ids, ps in zip(token_rows, prob_rows):
        end = ids.index(eos_token_id) + 1 if eos_token_id in ids else len(ids)
        trimmed_ids.append(ids[:end])
        trimmed_probs.append(ps[:end])
    return Generated(trimmed_ids, trimmed_probs, stopped_early)
