"""CLIP backbones: building, OpenAI-layout checkpoints, CLIP input, cached prompt features, frozen towers."""
from pyiqa_uniqa.backbones.clip import (
                                        OPENAI_CLIP,
                                        clip_model_config,
                                        clip_reference_state_dict,
                                        create_clip,
                                        get_tokenizer,
)
from pyiqa_uniqa.backbones.clip_input import CLIP_MEAN, CLIP_STD, ClipInput, resize_center_crop
from pyiqa_uniqa.backbones.frozen import FrozenTowerModule
from pyiqa_uniqa.backbones.openai_layout import openai_dtype
from pyiqa_uniqa.backbones.text_features import encode_prompts

__all__ = [
    'CLIP_MEAN', 'CLIP_STD', 'OPENAI_CLIP', 'ClipInput', 'FrozenTowerModule', 'clip_model_config',
    'clip_reference_state_dict', 'create_clip', 'encode_prompts', 'get_tokenizer', 'openai_dtype',
    'resize_center_crop',
]
