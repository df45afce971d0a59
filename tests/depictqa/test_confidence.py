"""Confidence rules equal the official computation (official_depictqa) and hand computation."""
import time

import numpy as np
import official_depictqa as official
import pytest
import torch

from pyiqa_uniqa.backbones.sentence_embedder import SentenceEmbedder
from pyiqa_uniqa.depictqa import templates
from pyiqa_uniqa.depictqa.confidence import (
    AnswerTokens,
    compare_brief_confidence,
    detail_confidence,
    single_brief_confidence,
)
from pyiqa_uniqa.depictqa.records import is_brief

BOS = 1  # the official sequences start with a BOS placeholder; the official code drops it


@pytest.fixture(scope='module')
def tokens(tiny_net):
    return AnswerTokens(tiny_net.tokenizer)


@pytest.fixture(scope='module')
def embedder(tmp_path_factory):
    """A sentence-transformers model saved as all-MiniLM-L6-v2 is, tiny and random."""
    from pyiqa_uniqa.testing.tiny_sentence_model import write_tiny_sentence_model
    return SentenceEmbedder(write_tiny_sentence_model(tmp_path_factory.mktemp('minilm')), device='cpu').embed


def ids_of(tokenizer, text):
    return tokenizer(text, add_special_tokens=False).input_ids


def test_answer_tokens_are_what_training_answers_end_with(tiny_net, tokens):
    tok = tiny_net.tokenizer
    assert tok.convert_ids_to_tokens(ids_of(tok, 'Blur and noise\n </s>')) == ['Blur', 'Ġand', 'Ġnoise', 'ĊĠ', '</s>']
    assert tok.convert_ids_to_tokens(tokens.end) == ['ĊĠ', '</s>']
    assert tok.convert_ids_to_tokens([tokens.and_id]) == ['Ġand']
    assert [tok.decode(v) for v in tokens.verdicts] == ['Image A', 'Image B'] and tokens.letter == 1


@pytest.mark.parametrize('answer, probs, expected', [
    # "\n </s>" ends the answer: the mean is over "Blur" and "noise" ("and" removed)
    ('Blur and noise\n </s>', [0.9, 0.2, 0.6, 0.3, 0.99], (0.9 + 0.6) / 2),
    # EOS without the newline before it: p(EOS) is part of the mean, as the official
    ('Noise</s>', [0.9, 0.2], (0.9 + 0.2) / 2),
    # only the first "and" is removed
    ('Blur and noise and blur\n </s>', [0.9, 0.2, 0.6, 0.35, 0.15, 0.8, 0.7], (0.9 + 0.6 + 0.35 + 0.15) / 4),
    # no end at all (the token limit): every token counts
    ('Noise noise', [0.5, 0.7], 0.6),
])
def test_single_brief_confidence(tiny_net, tokens, answer, probs, expected):
    ids = ids_of(tiny_net.tokenizer, answer)
    assert len(ids) == len(probs)
    ours = single_brief_confidence(ids, probs, tokens)
    assert ours == pytest.approx(expected, abs=1e-12)
    assert ours == pytest.approx(official.single_brief_confidence([BOS] + ids, probs, tokens.end, tokens.and_id))


def test_empty_brief_answer_has_no_confidence(tiny_net, tokens):
    assert single_brief_confidence(tokens.end, [0.5, 0.9], tokens) is None  # official: ZeroDivisionError -> None


def test_comparison_confidence_is_the_probability_of_the_letter(tiny_net, tokens):
    tok = tiny_net.tokenizer
    for answer in ('Image B\n </s>', 'Image A</s>'):
        ids = ids_of(tok, answer)
        probs = [0.1 * (i + 1) for i in range(len(ids))]
        assert compare_brief_confidence(ids, probs, tokens) == pytest.approx(probs[1])
        assert compare_brief_confidence(ids, probs, tokens) == official.compare_brief_confidence(
            [BOS] + ids, probs, [list(v) for v in tokens.verdicts])


def test_verdict_search_without_a_verdict_terminates(tiny_net, tokens):
    ids = ids_of(tiny_net.tokenizer, 'Image C is nice and Image is good ' * 400)
    start = time.monotonic()
    assert compare_brief_confidence(ids, [0.5] * len(ids), tokens) is None
    assert time.monotonic() - start < 5


def test_single_word_markers_are_the_official_ones():
    for query in ('Answer in a word.', 'Give a single phrase.', 'Reply with one phrase.', 'Use one word.'):
        assert templates.asks_single_word(query) and official.asks_single_word(query)
    for query in ('Use ONE WORD.', 'Which image is better?', 'Answer in one sentence.'):
        assert not templates.asks_single_word(query) and not official.asks_single_word(query)
    assert templates.with_single_word_tail('Use ONE WORD.') == 'Use ONE WORD.' + templates.SINGLE_WORD_TAIL


def test_detail_confidence_weights_tokens_by_importance(tiny_net, tokens):
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
    assert detail_confidence(ids, probs, tokens, embed) == pytest.approx(expected, abs=1e-6)
    # only the top-k weights count: with k=1, the most important token alone
    assert detail_confidence(ids, probs, tokens, embed, top_k=1) == pytest.approx(0.5)
    assert detail_confidence(ids, probs, tokens, None) is None


def test_detail_confidence_keeps_every_token(tiny_net, tokens):
    """EOS, "and" and whitespace tokens are candidates too (EOS's weight is 0: removing it changes no text)."""
    tok = tiny_net.tokenizer
    ids = ids_of(tok, 'noise and blur\n </s>')
    full = tok.decode(ids, skip_special_tokens=True)
    ablated = [tok.decode(ids[:i] + ids[i + 1:], skip_special_tokens=True) for i in range(len(ids))]
    angles = {full: 0.0}
    for i, text in enumerate(ablated):
        angles.setdefault(text, [1.2, 2.0, 0.5, 0.3, 0.0][i])  # cos: .36, -.42, .88, .96, 1 -> weights .64, 1.42, .12, .04, 0

    def embed(sentences):
        return torch.tensor([[np.cos(angles[s]), np.sin(angles[s])] for s in sentences])

    probs = [0.5, 0.9, 0.3, 0.8, 0.6]
    weights = 1 - np.cos([1.2, 2.0, 0.5, 0.3, 0.0])
    expected = float((weights / weights.sum() * probs).sum())
    assert detail_confidence(ids, probs, tokens, embed) == pytest.approx(expected, abs=1e-6)
    assert official.detail_confidence([BOS] + ids, probs, full, tok, embed) == pytest.approx(expected, abs=1e-6)


def test_detail_confidence_with_a_sentence_model_equals_the_official(tiny_net, tokens, embedder):
    tok = tiny_net.tokenizer
    ids = ids_of(tok, 'The image shows obvious blur and some noise in the dark parts and the sky, which ruins the '
                      'details of the face and the fur texture, so the overall quality is poor.\n </s>')
    probs = list(np.random.default_rng(0).uniform(0.2, 1.0, len(ids)))
    text = tok.decode(ids, skip_special_tokens=True)
    assert not is_brief(text)
    assert detail_confidence(ids, probs, tokens, embedder) == pytest.approx(
        official.detail_confidence([BOS] + ids, probs, text, tok, embedder), abs=1e-6)


def test_sentence_embedder_with_a_tiny_sentence_transformers_model(tiny_net, tokens, embedder):
    vectors = embedder(['blur and noise', 'noise'])
    assert vectors.shape == (2, 32)
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(2), atol=1e-5)
    ids = ids_of(tiny_net.tokenizer, 'The image shows obvious blur and some noise in the dark parts.')
    value = detail_confidence(ids, [0.8] * len(ids), tokens, embedder)
    assert value == pytest.approx(0.8, abs=1e-5)  # a weighted mean of equal probabilities


def test_brief_threshold_is_22_words_split_on_spaces():
    assert is_brief(' '.join(['w'] * 21)) and not is_brief(' '.join(['w'] * 22))
    assert is_brief('w\nw ' * 10)  # newlines do not split words in the official count
    assert not is_brief('w  ' * 11)  # every single space does
    for text in ('w\nw ' * 10, 'w  ' * 11):
        assert is_brief(text) == official.is_brief(text)
