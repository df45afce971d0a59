"""CLIP backbones: building, OpenAI-layout checkpoints, cached prompt features, frozen towers.

Importing this package (or any of its modules) does not import open_clip: ``clip.py`` imports it
when a model is built. The CLIP input (``clip_input``: ``ClipInput``, ``CLIP_MEAN``/``CLIP_STD``,
``resize_center_crop``), the sentence embedder (``sentence_embedder``) and ``precision`` are
imported from their modules.
"""
from pyiqa_uniqa.backbones.clip import (
                                        OPENAI_CLIP,
                                        clip_model_config,
                                        clip_reference_state_dict,
                                        create_clip,
                                        get_tokenizer,
)
from pyiqa_uniqa.backbones.frozen import FrozenTowerModule
from pyiqa_uniqa.backbones.openai_layout import openai_dtype
from pyiqa_uniqa.backbones.text_features import encode_prompts

__all__ = [
    'OPENAI_CLIP', 'FrozenTowerModule', 'clip_model_config', 'clip_reference_state_dict', 'create_clip',
    'encode_prompts', 'get_tokenizer', 'openai_dtype',
]
