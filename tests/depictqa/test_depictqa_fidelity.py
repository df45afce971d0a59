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
    official_pixels,
    patch_features,
    prefix_embeds,
    project,
    query_text,
    write_official_files,
)
from PIL import Image

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
              'vision_openai_weights': str(files['clip']),
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
        ours = prepare_pixels(load_image(source)[None], settings, 14)[0]
        assert ours.shape == official.shape
        assert torch.allclose(ours.double(), official, atol=1e-5, rtol=0)  # one 8-bit level is 0.015 here


def test_other_tensors_are_resized_in_float_close_to_the_official():
    array = dict(load_photos(['astronaut']))['astronaut']
    official = official_pixels(Image.fromarray(array), 224, 672, 70, patch=14) * STD + MEAN
    settings = ImageSettings(resize=224, max_size=672, min_size=70)
    image = (torch.from_numpy(array).permute(2, 0, 1).float() / 255)[None].requires_grad_()
    ours = prepare_pixels(image, settings, 14)[0] * STD + MEAN
    ours.sum().backward()  # differentiable, as as_loss=True needs
    assert image.grad.abs().sum() > 0
    assert 0 < float((ours.double() - official).abs().max()) < 6 / 255
