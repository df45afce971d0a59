"""The prompt sets: the official ones as data, and ``caption-level`` in the words of the pre-training captions."""
import pytest
import torch

from pyiqa_uniqa.uniqa.arch import UniQA
from pyiqa_uniqa.uniqa.prompts import LEVELS_PER_GROUP, PROMPT_SETS, flat_prompts, prompt_groups
from pyiqa_uniqa.uniqa_pretrain.caption_prompts import CaptionPrompts
from pyiqa_uniqa.uniqa_pretrain.captioning_models import CaptionRequest, TemplateCaptioner


def test_caption_level_prompts_are_the_level_sentences_the_captions_open_with():
    """A text tower pre-trained on the template captions has read exactly these sentences."""
    captioner = TemplateCaptioner(CaptionPrompts.load())
    for level, prompt in enumerate(flat_prompts('caption-level')):
        caption, = captioner.caption([CaptionRequest('x.png', 'quality', level, [('blur', 3)])])
        assert caption.startswith(prompt + ' '), (prompt, caption)


def test_every_group_orders_five_levels_from_worst_to_best():
    for name in PROMPT_SETS:
        for group in prompt_groups(name):
            assert len(group) == LEVELS_PER_GROUP, name
    assert flat_prompts('level') == ('bad image', 'poor image', 'fair image', 'good image', 'perfect image')


def test_the_metric_scores_with_the_caption_level_prompts():
    net = UniQA(backbone_weights='random', model_name='tiny-clip-quickgelu', prompt_set='caption-level',
                use_adapter=False, num_crops=2).eval()
    assert net.prompts == flat_prompts('caption-level')
    official = UniQA(backbone_weights='random', model_name='tiny-clip-quickgelu', use_adapter=False, num_crops=2).eval()
    image = torch.rand(1, 3, 240, 260, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert net(image).item() != pytest.approx(official(image).item(), abs=1e-6)  # other words, other score
    with pytest.raises(ValueError, match="caption-level"):
        UniQA(backbone_weights='random', model_name='tiny-clip-quickgelu', prompt_set='captions')


def test_pretraining_validates_zero_shot_with_a_prompt_set_by_name():
    from pyiqa_uniqa.uniqa_pretrain.arch import UniQAPretrainCLIP

    net = UniQAPretrainCLIP('tiny-clip-quickgelu', 'random', zero_shot_prompts='caption-level')
    assert net.zero_shot_prompts == list(flat_prompts('caption-level'))
    assert UniQAPretrainCLIP('tiny-clip-quickgelu', 'random').zero_shot_prompts == list(flat_prompts('level'))
