"""CLIP backbones: building, OpenAI-layout checkpoints, cached prompt features, frozen towers."""
from pyiqa_uniqa.backbones.clip import (
                                        OPENAI_CLIP,
                                        clip_model_config,
                                        clip_reference_state_dict,
                                        create_clip,
                                        get_tokenizer,
)
from pyiqa_uniqa.backbones.frozen import FrozenTowerModule
from pyiqa_uniqa.backbones.openai_layout import openai_dtype
from pyiqa_uniqa.backbones.preprocess import resize_center_crop
from pyiqa_uniqa.backbones.text_features import encode_prompts

__all__ = [
    'OPENAI_CLIP', 'FrozenTowerModule', 'clip_model_config', 'clip_reference_state_dict', 'create_clip',
    'encode_prompts', 'get_tokenizer', 'openai_dtype', 'resize_center_crop',
]
