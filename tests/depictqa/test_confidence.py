"""Confidence rules against hand computation; the verdict search is bounded."""
import time

import pytest
import torch

from pyiqa_uniqa.depictqa.confidence import (
    SentenceEmbedder,
    TokenRoles,
    brief_confidence,
    comparison_verdict,
    detail_confidence,
    is_brief,
)


@pytest.fixture(scope='module')
def roles(tiny_net):
    return TokenRoles(tiny_net.tokenizer)


def ids_of(tokenizer, text):
    return tokenizer(text, add_special_tokens=False).input_ids


def test_brief_confidence_is_the_mean_over_content_tokens(tiny_net, roles):
    tok = tiny_net.tokenizer
    ids = ids_of(tok, 'Blur and noise\n </s>')
    assert tok.convert_ids_to_tokens(ids) == ['Blur', 'Ġand', 'Ġnoise', 'ĊĠ', '</s>']
    probs = [0.9, 0.2, 0.6, 0.3, 0.99]
    # "and", the newline/space token and EOS are excluded: (0.9 + 0.6) / 2
    assert brief_confidence(ids, probs, roles) == pytest.approx(0.75)
    assert brief_confidence([tok.eos_token_id], [0.5], roles) is None


def test_comparison_confidence_is_the_probability_of_the_letter(tiny_net, roles):
    tok = tiny_net.tokenizer
    ids = ids_of(tok, 'I believe Image B has better overall quality.')
    probs = [0.1 * (i + 1) for i in range(len(ids))]
    letter = tok.convert_ids_to_tokens(ids).index('ĠB')
    assert comparison_verdict(ids, probs, roles) == ('Image B', pytest.approx(probs[letter]))
    ids = ids_of(tok, 'Image A')
    assert comparison_verdict(ids, [0.7, 0.42], roles) == ('Image A', pytest.approx(0.42))


def test_verdict_search_without_a_verdict_terminates(tiny_net, roles):
    ids = ids_of(tiny_net.tokenizer, 'Image C is nice and Image is good ' * 400)
    start = time.monotonic()
    assert comparison_verdict(ids, [0.5] * len(ids), roles) == (None, None)
    assert time.monotonic() - start < 5


def test_detail_confidence_weights_tokens_by_importance(tiny_net, roles):
    tok = tiny_net.tokenizer
    ids = ids_of(tok, 'blur noise compression')
    assert len(ids) == 3
    full = tok.decode(ids)
    ablated = [tok.decode(ids[:i] + ids[i + 1:]) for i in range(3)]
    # cos(full, ablated_i) = 0.0, 0.6, 0.8 -> weights 1.0, 0.4, 0.2
    vectors = {full: [1.0, 0.0], ablated[0]: [0.0, 1.0], ablated[1]: [0.6, 0.8], ablated[2]: [0.8, 0.6]}

    def embed(sentences):
        return torch.tensor([vectors[s] for s in sentences])

    probs = [0.5, 0.9, 0.3]
    expected = (1.0 * 0.5 + 0.4 * 0.9 + 0.2 * 0.3) / 1.6
    assert detail_confidence(ids, probs, roles, embed) == pytest.approx(expected, abs=1e-6)
    # only the top-k weights count: with k=1, the most important token alone
    assert detail_confidence(ids, probs, roles, embed, top_k=1) == pytest.approx(0.5)
    assert detail_confidence(ids, probs, roles, None) is None


def test_sentence_embedder_with_a_tiny_random_bert(tiny_net, roles):
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=len(tiny_net.tokenizer), hidden_size=32, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=64))
    embedder = SentenceEmbedder(bert, tiny_net.tokenizer)
    vectors = embedder(['blur and noise', 'noise'])
    assert vectors.shape == (2, 32)
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(2), atol=1e-5)
    ids = ids_of(tiny_net.tokenizer, 'The image shows obvious blur and some noise in the dark parts.')
    value = detail_confidence(ids, [0.8] * len(ids), roles, embedder)
    assert value == pytest.approx(0.8, abs=1e-5)  # a weighted mean of equal probabilities


def test_brief_threshold_is_22_words():
    assert is_brief(' '.join(['w'] * 21)) and not is_brief(' '.join(['w'] * 22))
