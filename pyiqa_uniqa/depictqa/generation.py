"""Batched, bounded decoding from input embeddings with a KV cache.

The prompt is left-padded and masked (the official code leaves pads unmasked to dodge hangs,
issue #4; here termination never depends on the model: every call stops after
``max_new_tokens`` steps or ``max_time_s`` seconds, whichever comes first). Greedy by default
(temperature 0, the official setting); nucleus sampling with a seeded generator otherwise.
"""
import dataclasses
import time

import torch


@dataclasses.dataclass
class Generated:
    token_ids: list   # per row: the new tokens, up to and including EOS
    probs: list       # per row: softmax probability of each chosen token
    stopped_early: bool  # the time cap ended the search


def _pick(logits, temperature, top_p, generator):
    probs = torch.softmax(logits.float(), dim=-1)
    if temperature <= 0:
        token = probs.argmax(dim=-1)
    else:
        scaled = torch.softmax(logits.float() / temperature, dim=-1)
        ordered, order = scaled.sort(dim=-1, descending=True)
        outside = ordered.cumsum(-1) - ordered > top_p
        ordered = ordered.masked_fill(outside, 0)
        choice = torch.multinomial(ordered / ordered.sum(-1, keepdim=True), 1, generator=generator)
        token = order.gather(-1, choice).squeeze(-1)
    return token, probs.gather(-1, token[:, None]).squeeze(-1)


@torch.no_grad()
def generate(lm, embeds, attention_mask, eos_token_id, max_new_tokens, max_time_s=None,
             temperature=0.0, top_p=0.9, generator=None):
    """``embeds`` [B, L, D] left-padded, ``attention_mask`` [B, L] -> ``Generated``."""
    start = time.monotonic()
    batch = embeds.shape[0]
    positions = (attention_mask.cumsum(-1) - 1).clamp_min(0)
    output = lm(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=positions, use_cache=True)
    finished = torch.zeros(batch, dtype=torch.bool, device=embeds.device)
    tokens, probs = [], []
    stopped_early = False
    for step in range(max_new_tokens):
        token, prob = _pick(output.logits[:, -1], temperature, top_p, generator)
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
                    past_key_values=output.past_key_values, use_cache=True)
    if not tokens:
        return Generated([[] for _ in range(batch)], [[] for _ in range(batch)], stopped_early)
    token_rows, prob_rows = torch.stack(tokens, 1).tolist(), torch.stack(probs, 1).tolist()
    trimmed_ids, trimmed_probs = [], []
    for ids, ps in zip(token_rows, prob_rows):
        end = ids.index(eos_token_id) + 1 if eos_token_id in ids else len(ids)
        trimmed_ids.append(ids[:end])
        trimmed_probs.append(ps[:end])
    return Generated(trimmed_ids, trimmed_probs, stopped_early)
