"""The one sentence embedder, on a tiny sentence-transformers model saved like all-MiniLM-L6-v2."""
import time

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

from pyiqa_uniqa import network
from pyiqa_uniqa.backbones.sentence_embedder import SentenceEmbedder
from pyiqa_uniqa.testing.tiny_sentence_model import write_tiny_sentence_model
from pyiqa_uniqa.weights import WeightsNotFoundError


@pytest.fixture(scope='module')
def tiny_model(tmp_path_factory):
    return write_tiny_sentence_model(tmp_path_factory.mktemp('sentence') / 'tiny-minilm')


def test_unit_vectors_equal_mean_pooled_encoder_states(tiny_model):
    embedder = SentenceEmbedder(tiny_model, device='cpu')
    texts = ['the image is very blurry', 'sharp', 'a noisy dark photo of poor quality, not good']
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 32) and vectors.dtype == torch.float32
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(3), atol=1e-6)
    # what the library computes is the MiniLM recipe: mean of the token states over the mask
    tokenizer, bert = AutoTokenizer.from_pretrained(tiny_model), AutoModel.from_pretrained(tiny_model).eval()
    batch = tokenizer(texts, padding=True, return_tensors='pt')
    with torch.no_grad():
        hidden = bert(**batch).last_hidden_state
    mask = batch['attention_mask'][..., None].float()
    expected = F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    assert torch.allclose(vectors, expected, atol=1e-5)
    # a sentence's vector does not depend on what it is batched with (padding is masked)
    assert torch.allclose(embedder.embed(texts[:1])[0], vectors[0], atol=1e-5)


def test_empty_inputs_and_token_counts(tiny_model):
    embedder = SentenceEmbedder(tiny_model, device='cpu')
    assert embedder.embed([]).shape == (0, 32)
    empty = embedder.embed([''])
    assert torch.isfinite(empty).all() and torch.allclose(empty.norm(), torch.tensor(1.0))
    assert embedder.token_count('the image is blurry') == 4
    assert embedder.token_count('') == 0
    assert embedder.token_count('blurry ' * 500) == 500  # counted in full, not truncated


def test_missing_model_fails_at_once_naming_the_option(tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    start = time.monotonic()
    with pytest.raises(WeightsNotFoundError) as info:
        SentenceEmbedder('sentence-transformers/nope', device='cpu', keyword='sentence_model')
    assert time.monotonic() - start < 2
    for part in ("'sentence-transformers/nope'", 'HF_HUB_OFFLINE is set', 'hf download', 'sentence_model=<path>',
                 'models--sentence-transformers--nope'):
        assert part in str(info.value)
    with pytest.raises(WeightsNotFoundError, match='folder .*missing-folder does not exist.*as model=<path>'):
        SentenceEmbedder(tmp_path / 'missing-folder', device='cpu')


def test_unreachable_hub_is_known_within_two_seconds(monkeypatch):
    for variable in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(network, '_probed', {})
    monkeypatch.setenv('HF_ENDPOINT', 'http://127.0.0.1:9')  # nothing listens there
    start = time.monotonic()
    with pytest.raises(WeightsNotFoundError, match="'sentence-transformers/nope' is not on this machine .*--embedder"):
        SentenceEmbedder('sentence-transformers/nope', device='cpu', keyword='embedder', flag='--embedder')
    assert time.monotonic() - start < 2
