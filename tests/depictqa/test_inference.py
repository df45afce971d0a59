"""describe / compare / the pyiqa metric: odd inputs, bounded decoding, scores, errors."""
import time

import numpy as np
import pytest
import torch
from PIL import Image

from pyiqa_uniqa.depictqa import templates

ODD_INPUTS = {
    'tiny': lambda: torch.rand(3, 1, 1),
    'huge': lambda: torch.rand(3, 3000, 2000),
    'grayscale': lambda: torch.rand(1, 37, 53),
    'rgba_array': lambda: np.random.default_rng(0).integers(0, 255, (20, 90, 4), dtype=np.uint8),
}


@pytest.mark.parametrize('kind', sorted(ODD_INPUTS))
def test_describe_and_compare_return_in_bounded_time(tiny_net, kind):
    image = ODD_INPUTS[kind]()
    start = time.monotonic()
    text, confidence = tiny_net.describe(image)
    verdict, p_verdict = tiny_net.compare(image, torch.rand(3, 40, 40))
    detail, _ = tiny_net.describe(image, ref=torch.rand(3, 30, 30), detail=True)
    assert time.monotonic() - start < 30
    assert isinstance(text, str) and isinstance(detail, str)
    assert confidence is None or 0 <= confidence <= 1
    assert verdict in templates.AB_ANSWERS and 0 <= p_verdict <= 1


def test_time_cap_ends_a_runaway_generation(tiny_net):
    settings = tiny_net.config.generation
    saved = settings.max_new_tokens, settings.max_time_s
    settings.max_new_tokens, settings.max_time_s = 10 ** 6, 0.5
    try:
        start = time.monotonic()
        tiny_net.describe(torch.rand(3, 32, 32), detail=True)
        assert time.monotonic() - start < 15
    finally:
        settings.max_new_tokens, settings.max_time_s = saved


def test_batched_describe_matches_one_by_one(tiny_net):
    images = [torch.rand(3, 32, 48), torch.rand(3, 64, 24), torch.rand(3, 32, 48)]
    batched = tiny_net.describe(images)
    assert [tiny_net.describe(image)[0] for image in images] == [text for text, _ in batched]


def test_paths_and_unreadable_files(tiny_net, tmp_path):
    from pyiqa_uniqa.data.images import UnreadableImageError
    Image.fromarray(np.zeros((20, 20), dtype=np.uint8)).save(tmp_path / 'gray.png')
    assert isinstance(tiny_net.describe(str(tmp_path / 'gray.png'))[0], str)
    (tmp_path / 'cut.png').write_bytes((tmp_path / 'gray.png').read_bytes()[:30])
    with pytest.raises(UnreadableImageError, match='cut.png'):
        tiny_net.describe(str(tmp_path / 'cut.png'))


def test_level_score_is_the_expected_value_over_level_words(tiny_net):
    images = torch.rand(2, 3, 48, 48)
    with torch.no_grad():
        score = tiny_net(images)
        query = templates.with_single_word_tail(templates.RATE_LEVEL_QUESTIONS[0])
        requests = [{'task': 'quality_single_A_noref', 'turns': [(query, None)], 'images': {'A': image}}
                    for image in images]
        by_hand = []
        for sequence, _, _ in tiny_net._embed(requests):
            logits = tiny_net.llm(inputs_embeds=sequence[None]).logits[0, -1]
            word_ids = [tiny_net.tokenizer(w, add_special_tokens=False).input_ids[0] for w, _ in templates.QUALITY_LEVELS]
            probs = torch.softmax(logits[word_ids], -1)
            by_hand.append(sum(p * v for p, (_, v) in zip(probs, templates.QUALITY_LEVELS)))
    assert score.shape == (2, 1)
    assert torch.allclose(score.flatten(), torch.stack(by_hand), atol=1e-5)


def test_pyiqa_metrics_nr_fr_and_as_loss():
    import pyiqa
    nr = pyiqa.create_metric('depictqa', model_config='tiny', device='cpu')
    fr = pyiqa.create_metric('depictqa-fr', model_config='tiny', device='cpu')
    compare = pyiqa.create_metric('depictqa-fr', model_config='tiny', score_method='compare', device='cpu')
    img, ref = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    for score in (nr(img), fr(img, ref), compare(img, ref)):
        assert score.shape == (2, 1) and bool(((score >= 0) & (score <= 1)).all())
    assert not nr.lower_better
    loss_metric = pyiqa.create_metric('depictqa', model_config='tiny', as_loss=True, device='cpu')
    x = torch.randn(2, 3, 224, 224, requires_grad=True)  # pyiqa's own backward test input
    loss_metric(x).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_named_model_offline_fails_with_what_to_download():
    import pyiqa

    from pyiqa_uniqa.weights import WeightsNotFoundError
    start = time.monotonic()
    with pytest.raises(WeightsNotFoundError) as info:
        pyiqa.create_metric('depictqa', device='cpu')
    message = str(info.value)
    assert 'lmsys/vicuna-7b-v1.5' in message and 'openai/clip-vit-large-patch14' in message
    assert 'huggingface-cli download' in message and 'DepictQA2-DQ495K_ckpt.pt' in message
    assert time.monotonic() - start < 20


def test_save_pretrained_round_trip(tiny_net, tmp_path):
    from pyiqa_uniqa.depictqa.arch import DepictQA
    folder = tiny_net.save_pretrained(tmp_path / 'tiny_model')
    reloaded = DepictQA(str(folder))
    image = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        assert torch.allclose(reloaded(image), tiny_net(image), atol=1e-6)
    assert reloaded.describe(image[0]) == tiny_net.describe(image[0])


@pytest.mark.parametrize('precision, tolerance', [('fp16', 0.005), ('bf16', 0.02)])
def test_half_precision_stores_frozen_parts_in_half_and_scores_close_to_fp32(tiny_net, precision, tolerance):
    from pyiqa_uniqa.backbones.precision import DTYPES
    from pyiqa_uniqa.depictqa.arch import DepictQA
    assert tiny_net.precision == 'fp32'  # the default without CUDA
    half = DepictQA('tiny', precision=precision)
    assert next(half.vision_encoder.parameters()).dtype == DTYPES[precision]
    assert half.llm.get_input_embeddings().weight.dtype == DTYPES[precision]
    trainable = [p for p in half.parameters() if p.requires_grad]
    assert trainable and all(p.dtype == torch.float32 for p in trainable)  # what trains stays fp32
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        difference = (half(images) - tiny_net(images)).abs().max()
    assert 0 < float(difference) < tolerance


def test_unknown_precision_names_the_choices():
    from pyiqa_uniqa.depictqa.arch import DepictQA
    with pytest.raises(ValueError, match='fp32, fp16, bf16'):
        DepictQA('tiny', precision='fp8')


def test_one_query_per_image(tiny_net):
    images = [torch.rand(3, 32, 48), torch.rand(3, 32, 48)]
    queries = ['Which ONE distortion? Answer the question using a single word or phrase.',
               'Name the distortion. Answer the question using a single word or phrase.']
    together = tiny_net.describe(images, query=queries)
    alone = [tiny_net.describe(image, query=query) for image, query in zip(images, queries)]
    assert [a.text for a in together] == [a.text for a in alone]
    assert [a.confidence for a in together] == pytest.approx([a.confidence for a in alone], abs=1e-6)
    with pytest.raises(ValueError, match='1 queries for 2 images'):
        tiny_net.compare(images, images, query=queries[:1])
