"""Official DepictQA files load unchanged through ``pyiqa.create_metric`` and give the official numbers.

The files are written as the official code writes them (``official_depictqa``: a module tree with
the official attribute names saved by the official save sequence, a Hugging Face LLaMA folder, an
OpenAI-layout CLIP); every number is compared with an independent plain-tensor re-computation of
the official forward.
"""
import pytest
import torch
from official_depictqa import (
    MEAN,
    STD,
    TINY_ABSTRACTOR,
    OfficialLM,
    abstract,
    official_generate,
    official_pixels,
    patch_features,
    prefix_embeds,
    project,
    query_text,
    write_official_files,
)
from PIL import Image

from pyiqa_uniqa.backbones.clip_input import ClipInput
from pyiqa_uniqa.data.photos import load_photos
from pyiqa_uniqa.depictqa import templates
from pyiqa_uniqa.depictqa.config import ImageSettings
from pyiqa_uniqa.depictqa.images import load_image, prepare_pixels

TASK = 'quality_single_A_noref'


@pytest.fixture(scope='module')
def plain_files(tmp_path_factory):
    return write_official_files(tmp_path_factory.mktemp('depictqa_official'))


@pytest.fixture(scope='module')
def abstractor_files(tmp_path_factory):
    return write_official_files(tmp_path_factory.mktemp('depictqa_official_abstractor'), abstractor=True)


def model_config(files, resize=224, max_size=672):
    """Our config for a set of official files (the official DQ495K settings, tiny parts)."""
    config = {'language_model': str(files['llm']), 'tokenizer': str(files['llm']),
              'backbone_weights': str(files['clip']),
              'image': {'resize': resize, 'max_size': max_size, 'min_size': 70}}
    if 'abstractor.query_embeds' in files['delta_sd']:
        config['abstractor'] = {'num_queries': TINY_ABSTRACTOR['num_query'], 'num_layers': TINY_ABSTRACTOR['num_layers'],
                                'num_heads': TINY_ABSTRACTOR['nhead'], 'ffn_dim': TINY_ABSTRACTOR['dim_feedforward']}
    return config


def create(files, **kwargs):
    import pyiqa
    return pyiqa.create_metric('depictqa', model_config=model_config(files), pretrained_model_path=str(files['delta']),
                               device='cpu', **kwargs)


def official_image_tokens(files, pixels):
    tokens = patch_features(files['clip_sd'], pixels[None])
    if 'abstractor.query_embeds' in files['delta_sd']:
        tokens = abstract(files['delta_sd'], tokens, heads=TINY_ABSTRACTOR['nhead'])
    return project(files['delta_sd'], tokens)[0]


def official_level_score(files, image, query):
    """Our numeric score read off the official forward: E[level] over the level words' next-token probs."""
    lm, tokenizer = OfficialLM(files['base_sd'], files['delta_sd'], heads=4), files['tokenizer']
    tokens = official_image_tokens(files, official_pixels(image, 224, 672, 70, patch=32))
    embeds = torch.cat([prefix_embeds(lm, tokenizer, TASK, {'A': tokens}),
                        lm.embed(tokenizer(query_text(TASK, query), add_special_tokens=False).input_ids)])
    logits = lm.logits(embeds[None])[0, -1]
    words, values = zip(*templates.QUALITY_LEVELS)
    word_ids = [tokenizer(w, add_special_tokens=False).input_ids[0] for w in words]
    return float((logits[word_ids].softmax(-1) * torch.tensor(values)).sum())


@pytest.mark.parametrize('variant', ['plain', 'abstractor'])
def test_release_loads_and_scores_as_the_official_forward(variant, plain_files, abstractor_files):
    files = plain_files if variant == 'plain' else abstractor_files
    metric = create(files)
    if variant == 'abstractor':  # official names and shapes, loaded as they are
        own = metric.net.state_dict()
        assert own['abstractor.query_embeds'].shape == files['delta_sd']['abstractor.query_embeds'].shape
        assert torch.equal(own['abstractor.query_embeds'], files['delta_sd']['abstractor.query_embeds'].float())
    photo = Image.fromarray(dict(load_photos(['coffee']))['coffee'])  # 400x600: downscaled to 224x336
    query = templates.with_single_word_tail(templates.RATE_LEVEL_QUESTIONS[0])
    expected = official_level_score(files, photo, query)
    assert metric(photo).item() == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize('name', ['astronaut', 'coffee', 'motorcycle', 'retina'])
def test_files_pil_images_and_8bit_tensors_get_the_official_pixels(name, tmp_path):
    array = dict(load_photos([name]))[name]
    official = official_pixels(Image.fromarray(array), 224, 672, 70, patch=14)
    path = tmp_path / f'{name}.png'
    Image.fromarray(array).save(path)
    settings = ImageSettings(resize=224, max_size=672, min_size=70)
    as_pyiqa_loads_it = torch.from_numpy(array).permute(2, 0, 1).float() / 255
    for source in (str(path), Image.fromarray(array), as_pyiqa_loads_it):
        ours = prepare_pixels(load_image(source)[None], settings, 14, ClipInput())[0]
        assert ours.shape == official.shape
        assert torch.allclose(ours.double(), official, atol=1e-5, rtol=0)  # one 8-bit level is 0.015 here


def test_other_tensors_are_resized_in_float_close_to_the_official():
    array = dict(load_photos(['astronaut']))['astronaut']
    official = official_pixels(Image.fromarray(array), 224, 672, 70, patch=14) * STD + MEAN
    settings = ImageSettings(resize=224, max_size=672, min_size=70)
    image = (torch.from_numpy(array).permute(2, 0, 1).float() / 255)[None].requires_grad_()
    ours = prepare_pixels(image, settings, 14, ClipInput())[0] * STD + MEAN
    ours.sum().backward()  # differentiable, as as_loss=True needs
    assert image.grad.abs().sum() > 0
    assert 0 < float((ours.double() - official).abs().max()) < 6 / 255


# --- generation: greedy to the official 400 tokens, sampling, batching, confidence ---------------------------
def reference_prompt(files, lm, images, query, task=TASK):
    """The official prompt embeddings of one request (images: PIL per role)."""
    tokens = {role: official_image_tokens(files, official_pixels(image, 224, 672, 70, patch=32))
              for role, image in images.items()}
    return torch.cat([prefix_embeds(lm, files['tokenizer'], task, tokens),
                      lm.embed(files['tokenizer'](query_text(task, query), add_special_tokens=False).input_ids)])


def reference_answer(files, images, query, max_new_tokens=400, temperature=0.0, task=TASK):
    lm = OfficialLM(files['base_sd'], files['delta_sd'], heads=4)
    embeds = reference_prompt(files, lm, images, query, task)[None]
    sequences, probs = official_generate(lm, embeds, torch.ones(embeds.shape[:2], dtype=torch.long),
                                         files['tokenizer'].eos_token_id, max_new_tokens, temperature, top_p=0.9)
    return sequences[0], probs[0]


def photos(*names):
    return [Image.fromarray(array) for _, array in load_photos(names)]


def request(image, query, task=TASK):
    return {'task': task, 'turns': [(query, None)], 'images': {'A': load_image(image)}}


def test_greedy_answer_runs_to_the_official_400_tokens(plain_files):
    net = create(plain_files).net
    assert net.config.generation.max_new_tokens == 400
    photo, = photos('chelsea')
    query = 'Describe in a few words what is wrong with this photo.'  # a custom question: no single-word tail
    _, ids, probs = net.answer([request(photo, query)])[0]
    sequence, expected = reference_answer(plain_files, {'A': photo}, query)
    assert ids == sequence[1:].tolist()  # the official sequences start with a BOS placeholder
    assert len(ids) > 16  # the old brief limit would have cut it
    torch.testing.assert_close(torch.tensor(probs), expected, atol=1e-5, rtol=0)


def test_sampled_probabilities_are_those_of_the_processed_scores(plain_files):
    net = create(plain_files, config_overrides={'generation': {'temperature': 0.7, 'max_new_tokens': 24}}).net
    photo, = photos('coffee')
    query = 'Which ONE distortion is the most apparent? Answer the question using a single word or phrase.'
    torch.manual_seed(5)
    _, ids, probs = net.answer([request(photo, query)])[0]
    torch.manual_seed(5)
    sequence, expected = reference_answer(plain_files, {'A': photo}, query, max_new_tokens=24, temperature=0.7)
    assert ids == sequence[1:].tolist()
    torch.testing.assert_close(torch.tensor(probs), expected, atol=5e-5, rtol=0)  # fp32 noise / temperature
    raw = reference_answer(plain_files, {'A': photo}, query, max_new_tokens=1)[1]  # unprocessed, at step one
    assert abs(probs[0] - float(raw[0])) > 1e-3


QUERIES = ['What is the primary ONE distortion? Answer the question using a single word or phrase.',
           ('Which ONE degradation affects this image most, if there is any at all? Answer the question using '
            'a single word or phrase.'),
           'Name the ONE distortion. Answer the question using a single word or phrase.']


@pytest.mark.parametrize('batching', ['masked', 'official'])
def test_batched_answers(plain_files, batching):
    """'official': the official batch-16 padding, answer for answer; 'masked': each equals its batch-1 answer."""
    from official_depictqa import generation_embeds
    net = create(plain_files, batching=batching, config_overrides={'generation': {'max_new_tokens': 10}}).net
    images = [image.resize((224, 160), Image.BICUBIC) for image in photos('chelsea', 'coffee', 'astronaut')]
    keys = [(i % 3, QUERIES[i % 3] if i < 8 else QUERIES[(i + 1) % 3]) for i in range(16)]
    rows = [(images[i], query) for i, query in keys]
    answers = net.answer([request(image, query) for image, query in rows])
    lm = OfficialLM(plain_files['base_sd'], plain_files['delta_sd'], heads=4)
    eos = plain_files['tokenizer'].eos_token_id
    if batching == 'official':
        tokens = [{'A': official_image_tokens(plain_files, official_pixels(image, 224, 672, 70, patch=32))}
                  for image, _ in rows]
        embeds, mask = generation_embeds(lm, plain_files['tokenizer'], TASK, [q for _, q in rows], tokens)
        sequences, probs = official_generate(lm, embeds, mask, eos, max_new_tokens=10)
        expected = [(s[1:], p) for s, p in zip(sequences, probs)]
    else:
        alone = {(i, q): reference_answer(plain_files, {'A': images[i]}, q, max_new_tokens=10) for i, q in set(keys)}
        expected = [(alone[key][0][1:], alone[key][1]) for key in keys]
    for (_, ids, probs), (sequence, p) in zip(answers, expected):
        sequence = sequence.tolist()
        sequence = sequence[:sequence.index(0)] if 0 in sequence else sequence  # the official pads finished rows with 0
        assert ids == sequence
        torch.testing.assert_close(torch.tensor(probs), p[:len(ids)], atol=1e-5, rtol=0)
    if batching == 'official':  # the padding is attended: answers depend on the batch, unlike batch 1
        alone = [reference_answer(plain_files, {'A': image}, query, max_new_tokens=10)[1] for image, query in rows[:3]]
        assert max(abs(probs[0] - float(p[0])) for (_, _, probs), p in zip(answers, alone)) > 1e-3


def test_describe_confidence_asks_again_for_a_single_word(plain_files):
    """A question without a single-word marker: the official confidence is that of the re-asked question."""
    from official_depictqa import SINGLE_TAIL, single_brief_confidence

    from pyiqa_uniqa.depictqa.confidence import AnswerTokens
    net = create(plain_files, config_overrides={'generation': {'max_new_tokens': 6}}).net
    photo, = photos('rocket')
    query = 'What is the primary ONE distortion?'
    answer = net.describe(photo, query=query)
    sequence, _ = reference_answer(plain_files, {'A': photo}, query, max_new_tokens=6)
    assert answer.text == plain_files['tokenizer'].decode(sequence[1:], skip_special_tokens=True).strip()
    again, probs = reference_answer(plain_files, {'A': photo}, query + SINGLE_TAIL, max_new_tokens=6)
    tokens = AnswerTokens(plain_files['tokenizer'])
    assert answer.confidence == pytest.approx(single_brief_confidence(again, probs, tokens.end, tokens.and_id), abs=1e-6)


# --- training: loss with the official mask and text limit, the official random crop ---------------------------
def official_training_loss(files, image, conversation, max_tokens=512):
    from official_depictqa import training_loss
    lm = OfficialLM(files['base_sd'], files['delta_sd'], heads=4)
    tokens = {'A': official_image_tokens(files, official_pixels(image, 224, 672, 70, patch=32))}
    return float(training_loss(lm, files['tokenizer'], TASK, conversation, tokens, max_tokens))


CONVERSATION = [('What is the primary ONE distortion? Answer the question using a single word or phrase.', 'Noise'),
                ('How severe is it?', 'The noise is obvious in the dark parts.')]


@pytest.mark.parametrize('turns', [CONVERSATION[:1], CONVERSATION, [(CONVERSATION[0][0], 'noise ' * 300)] * 2],
                         ids=['one turn', 'two turns', 'beyond 512 tokens'])
def test_training_loss_equals_the_official(plain_files, turns):
    net = create(plain_files).net
    photo, = photos('chelsea')
    conversation = [{'from': speaker, 'value': text} for turn in turns for speaker, text in zip(('human', 'gpt'), turn)]
    with torch.no_grad():
        loss, _ = net.answer_loss([{'task': TASK, 'turns': turns, 'images': {'A': load_image(photo)}}])
    assert float(loss) == pytest.approx(official_training_loss(plain_files, photo, conversation), abs=1e-5)
    if len(turns) > 1:  # attending the conversation's "</s>" (the corrected option) is a different loss
        net.config.hide_eos_in_training = False
        with torch.no_grad():
            visible, _ = net.answer_loss([{'task': TASK, 'turns': turns, 'images': {'A': load_image(photo)}}])
        assert abs(float(visible) - float(loss)) > 1e-3


@pytest.mark.parametrize('name, size', [('chelsea', None), ('coffee', (91, 300)), ('rocket', (173, 201))])
def test_training_crop_is_the_official_one(name, size):
    from pyiqa_uniqa.depictqa.images import downscale, random_centre_crop
    image = Image.fromarray(dict(load_photos([name]))[name])
    image = image.resize(size[::-1], Image.BICUBIC) if size else image
    settings = ImageSettings(resize=224, max_size=672, min_size=70)
    for seed in range(4):
        draws = (0.7 + 0.3 * torch.rand(2, generator=torch.Generator().manual_seed(seed))).tolist()
        resized = downscale(load_image(image)[None], settings)[0]
        cropped = random_centre_crop(resized, (0.7, 1.0), 70, torch.Generator().manual_seed(seed))
        ours = prepare_pixels(cropped[None], settings, 14, ClipInput())[0]
        official = official_pixels(image, 224, 672, 70, patch=14, crop_draws=draws)
        assert ours.shape == official.shape
        assert torch.allclose(ours.double(), official, atol=1e-5, rtol=0)
