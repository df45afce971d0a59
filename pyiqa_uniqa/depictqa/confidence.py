"""DepictQA's answer confidence, computed as the official ``confidence.py`` computes it.

Inputs: the generated token ids (up to and including EOS) and the probability of each. An answer
is brief when its decoded text has fewer than 22 words, counted as ``text.split(' ')`` (the
longest brief training answer has 19, the shortest detailed one 24).

- Brief single-image assessment: the mean probability of the answer's tokens up to the first
  answer-end sequence "\\n ▁</s>" (LLaMA ids 13, 29871, 2: how every training answer ends), without
  the first "and". An answer that ends with EOS directly keeps p(EOS) in the mean, as the official.
- Brief comparison: the probability of the letter of the first "Image A" / "Image B" token pair.
- Both only for a question that asks for a single word (``templates.asks_single_word``); otherwise
  the caller asks again with the single-word tail and scores that answer.
- Detailed answers: importance of token i, w_i = 1 - cos(S(answer), S(answer without token i)),
  over every generated token; the 30 largest, normalised to sum 1, weight the probabilities
  (sum w_i p_i). S is a sentence embedder (all-MiniLM-L6-v2 in the official runs); without one the
  confidence is ``None``, as in the official code.

The official code hard-codes LLaMA token ids; here they are derived from the tokenizer, which gives
those same ids for Vicuna's tokenizer. Two departures, both where the official code fails: a brief
computation that raises (an empty answer) gives ``None`` as the official ``try``/``except`` does, and a
comparison without "Image A/B" gives ``None`` where the official search never ends (DepictQA issue #16).
"""
import torch

from pyiqa_uniqa.depictqa import templates

DETAIL_TOP_TOKENS = 30


class AnswerTokens:
    """The token ids the rules look for, derived from the tokenizer.

    ``end``: the ids that close a training answer ("\\n </s>"); ``and_id``: " and";
    ``verdicts``: the ids of "Image A" and "Image B" and the offset of their letter.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.end = _added_ids(tokenizer, 'X', templates.ANSWER_END)
        connector = _added_ids(tokenizer, 'X', ' and')
        self.and_id = connector[0] if len(connector) == 1 else None
        self.verdicts = [tuple(tokenizer(v, add_special_tokens=False).input_ids) for v in templates.AB_ANSWERS]
        first, second = self.verdicts
        self.letter = next(i for i, (a, b) in enumerate(zip(first, second)) if a != b)

    def text(self, token_ids):
        return self.tokenizer.decode(token_ids, skip_special_tokens=True)


def _added_ids(tokenizer, prefix, suffix):
    """The ids ``suffix`` adds after ``prefix`` (a token's ids depend on what precedes it)."""
    before = tokenizer(prefix, add_special_tokens=False).input_ids
    after = tokenizer(prefix + suffix, add_special_tokens=False).input_ids
    return after[len(before):]


def single_brief_confidence(token_ids, probs, tokens):
    """Mean p up to the first answer end, without the first "and"; ``None`` if nothing is left."""
    token_ids, probs = [int(t) for t in token_ids], [float(p) for p in probs]
    width = len(tokens.end)
    cut = next((i for i in range(len(token_ids)) if token_ids[i:i + width] == tokens.end), len(token_ids))
    token_ids, probs = token_ids[:cut], probs[:cut]
    if tokens.and_id in token_ids:
        del probs[token_ids.index(tokens.and_id)]
    return sum(probs) / len(probs) if probs else None


def compare_brief_confidence(token_ids, probs, tokens):
    """p of the letter of the first "Image A" / "Image B"; ``None`` when there is none."""
    token_ids = [int(t) for t in token_ids]
    for index in range(len(token_ids)):
        if any(tuple(token_ids[index:index + len(v)]) == v for v in tokens.verdicts):
            return float(probs[index + tokens.letter])
    return None


def detail_confidence(token_ids, probs, tokens, embed_sentences, top_k=DETAIL_TOP_TOKENS):
    """Importance-weighted mean of token probabilities (needs a sentence embedder)."""
    if embed_sentences is None or not token_ids:
        return None
    token_ids = [int(t) for t in token_ids]
    texts = [tokens.text(token_ids)] + [tokens.text(token_ids[:i] + token_ids[i + 1:]) for i in range(len(token_ids))]
    with torch.no_grad():
        vectors = embed_sentences(texts).float()
    weights = 1 - torch.nn.functional.cosine_similarity(vectors[:1], vectors[1:], dim=-1)
    # a stable descending sort, as the official sorted(..., reverse=True): ties keep token order
    order = torch.sort(weights, descending=True, stable=True).indices[:top_k]
    chosen = weights[order]
    return float((chosen / chosen.sum() * torch.tensor([float(probs[i]) for i in order.tolist()])).sum())
