"""Scores equal an independent re-computation of the official UniQA forward to 1e-5."""
import pytest
import torch
from official_reference import official_crop_scores, official_scores

from pyiqa_uniqa.uniqa.arch import UniQA
from pyiqa_uniqa.uniqa.crops import five_crop_offsets, random_crop_offsets
from pyiqa_uniqa.uniqa.image_encoder import encode_image
from pyiqa_uniqa.uniqa.prompts import flat_prompts
from pyiqa_uniqa.weights import read_checkpoint

TINY = {'model_name': 'tiny-clip-quickgelu'}
TINY_HEADS = {'vision_heads': 1, 'text_heads': 2}  # tiny geometry: widths 64 (1 head) and 32 (2 heads)


def random_adapter_checkpoint(path, dim, seed=0):
    """An adapter file as the official repo saves it: pyiqa's {'params': ...} with official keys."""
    g = torch.Generator().manual_seed(seed)
    params = {
        'adapter.fc.0.weight': torch.randn(dim // 2, dim, generator=g) * dim ** -0.5,
        'adapter.fc.2.weight': torch.randn(dim, dim // 2, generator=g) * (dim // 2) ** -0.5,
        'score_level': torch.tensor([0.1, 0.35, 0.5, 0.8, 1.2]),
    }
    torch.save({'params': params}, path)
    return path, params


@pytest.fixture(scope='module')
def tiny_adapter(tmp_path_factory):
    return random_adapter_checkpoint(tmp_path_factory.mktemp('adapter') / 'adapter.pth', 32)


@pytest.mark.parametrize('prompt_set', ['level', 'ensemble', 'aigc'])
@pytest.mark.parametrize('pos_embedding', [True, False])
def test_matches_official_forward(tiny_clip_checkpoint, tiny_adapter, prompt_set, pos_embedding):
    adapter_path, head = tiny_adapter
    clip_sd = read_checkpoint(tiny_clip_checkpoint)
    model = UniQA(backbone_weights=str(tiny_clip_checkpoint), pretrained_model_path=str(adapter_path),
                  prompt_set=prompt_set, pos_embedding=pos_embedding, **TINY)
    kw = dict(prompts=flat_prompts(prompt_set), pos_embedding=pos_embedding, **TINY_HEADS)
    torch.manual_seed(1)
    images = torch.rand(2, 3, 260, 300)
    with torch.no_grad():
        # training mode: one forward on the given crop, as the official forward_image
        crop = images[:, :, :224, :224]
        ours = model.train()(crop)
        assert torch.allclose(ours, official_scores(clip_sd, head, crop, **kw), atol=1e-5, rtol=0)
        # eval mode: mean over the official five crops, and over our seeded ten crops
        model.eval()
        for mode, offsets in (('five', five_crop_offsets(260, 300, 224)),
                              ('random', random_crop_offsets(260, 300, 224, 10, seed=0))):
            model.test_crops = mode
            expected = official_crop_scores(clip_sd, head, images, offsets, 224, **kw)
            assert torch.allclose(model(images), expected, atol=1e-5, rtol=0), mode


def test_official_positional_resize_off_native_size(tiny_clip_checkpoint, tiny_adapter):
    """A 288x288 training crop has 82 tokens, not 50: the official 1-D bicubic resize applies."""
    adapter_path, head = tiny_adapter
    model = UniQA(backbone_weights=str(tiny_clip_checkpoint), pretrained_model_path=str(adapter_path), **TINY).train()
    images = torch.rand(2, 3, 288, 288)
    expected = official_scores(read_checkpoint(tiny_clip_checkpoint), head, images,
                               prompts=flat_prompts('level'), pos_embedding=True, **TINY_HEADS)
    with torch.no_grad():
        assert torch.allclose(model(images), expected, atol=1e-5, rtol=0)


def test_zero_shot_matches_official_without_adapter(tiny_clip_checkpoint):
    model = UniQA(backbone_weights=str(tiny_clip_checkpoint), prompt_set='ensemble', use_adapter=False, **TINY)
    images = torch.rand(3, 3, 224, 224)
    expected = official_scores(read_checkpoint(tiny_clip_checkpoint), {'score_level': model.score_level.detach()},
                               images, prompts=flat_prompts('ensemble'), pos_embedding=True, **TINY_HEADS)
    with torch.no_grad():
        assert torch.allclose(model.eval()(images), expected, atol=1e-5, rtol=0)


def test_our_image_path_equals_open_clip_at_native_size(tiny_clip_checkpoint):
    model = UniQA(backbone_weights=str(tiny_clip_checkpoint), **TINY)
    pixels = torch.randn(4, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(encode_image(model.clip.visual, pixels, pos_embedding=True), model.clip.visual(pixels))
        assert not torch.allclose(encode_image(model.clip.visual, pixels, pos_embedding=False),
                                  model.clip.visual(pixels), atol=1e-3)


def test_matches_official_forward_vit_b16(vitb16_checkpoint, tmp_path):
    """Once on the real geometry (ViT-B/16, 302 keys, fp16 linear weights) of UniQA_weight.pt."""
    adapter_path, head = random_adapter_checkpoint(tmp_path / 'adapter.pth', 512)
    model = UniQA(backbone_weights=str(vitb16_checkpoint), pretrained_model_path=str(adapter_path),
                  prompt_set='level').train()
    images = torch.rand(1, 3, 224, 224)
    expected = official_scores(read_checkpoint(vitb16_checkpoint), head, images, prompts=flat_prompts('level'),
                               pos_embedding=True, vision_heads=12, text_heads=8)
    with torch.no_grad():
        ours = model(images)
    assert torch.allclose(ours, expected, atol=1e-5, rtol=0), (ours - expected).abs().max()
