"""Fixtures for UniQA pre-training tests: a tiny image dataset and a tiny random LLaVA, built offline."""
import numpy as np
import pandas as pd
import pytest
from PIL import Image


@pytest.fixture
def image_table(tmp_path):
    """12 small photos-like images and a pyiqa meta-info CSV (img_name, mos, distortion, level)."""
    rng = np.random.default_rng(0)
    rows = []
    (tmp_path / 'images').mkdir()
    distortions = ['pristine', 'blur', 'noise', 'jpeg']
    for i in range(12):
        name = f'images/img_{i:02d}.png'
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(tmp_path / name)
        distortion = distortions[i % 4]
        level = 0 if distortion == 'pristine' else 1 + i % 5
        rows.append({'img_name': name, 'mos': float(i), 'distortion': distortion, 'level': level,
                     'split': 'train' if i < 9 else 'val'})
    csv = tmp_path / 'meta_info.csv'
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


def _character_tokenizer(special_tokens, **named_tokens):
    """A character-level fast tokenizer built offline with the tokenizers library."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    words = list(special_tokens) + ['\n'] + [chr(c) for c in range(32, 127)]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token='<unk>'))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(pattern='', behavior='isolated')
    tokenizer.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token='<unk>', pad_token='<pad>', **named_tokens)


@pytest.fixture(scope='session')
def tiny_llava(tmp_path_factory):
    """A random LLaVA-1.5-architecture model + processor (chat template included), saved like a Hub checkpoint."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    torch.manual_seed(0)
    tokenizer = _character_tokenizer(['<unk>', '<pad>', '<s>', '</s>', '<image>'], bos_token='<s>', eos_token='</s>',
                                     extra_special_tokens={'image_token': '<image>'})
    vision = CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                              image_size=32, patch_size=8, projection_dim=16)
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
                       pad_token_id=1, bos_token_id=2, eos_token_id=3)
    model = LlavaForConditionalGeneration(LlavaConfig(
        vision_config=vision, text_config=text, image_token_index=tokenizer.convert_tokens_to_ids('<image>'),
        vision_feature_layer=-1, vision_feature_select_strategy='default'))
    chat_template = ("{% for m in messages %}{{ m['role'].upper() }}: {% for c in m['content'] %}"
                     "{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n"
                     "{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}")
    processor = LlavaProcessor(image_processor=CLIPImageProcessor(size={'shortest_edge': 32},
                                                                  crop_size={'height': 32, 'width': 32}),
                               tokenizer=tokenizer, patch_size=8, vision_feature_select_strategy='default',
                               num_additional_image_tokens=1, chat_template=chat_template)
    folder = tmp_path_factory.mktemp('tiny_llava')
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope='session')
def tiny_qwen2_vl(tmp_path_factory):
    """A random Qwen2-VL-architecture model + processor (dynamic-resolution image tokens, chat template)."""
    import torch
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )
    torch.manual_seed(0)
    special = ['<unk>', '<pad>', '<|im_start|>', '<|im_end|>', '<|vision_start|>', '<|vision_end|>', '<|image_pad|>',
               '<|video_pad|>']
    tokenizer = _character_tokenizer(special, eos_token='<|im_end|>', additional_special_tokens=special[2:],
                                     extra_special_tokens={'image_token': '<|image_pad|>', 'video_token': '<|video_pad|>',
                                                           'vision_start_token': '<|vision_start|>',
                                                           'vision_end_token': '<|vision_end|>'})
    token = tokenizer.convert_tokens_to_ids
    config = Qwen2VLConfig(
        vision_config={'depth': 1, 'embed_dim': 16, 'hidden_size': 16, 'num_heads': 2, 'mlp_ratio': 2,
                       'patch_size': 14, 'spatial_merge_size': 2, 'temporal_patch_size': 2},
        text_config={'vocab_size': len(tokenizer), 'hidden_size': 16, 'intermediate_size': 32, 'num_hidden_layers': 1,
                     'num_attention_heads': 2, 'num_key_value_heads': 1, 'max_position_embeddings': 2048,
                     'rope_scaling': {'type': 'mrope', 'mrope_section': [1, 1, 2]}, 'bos_token_id': None,
                     'pad_token_id': token('<pad>'), 'eos_token_id': token('<|im_end|>')},
        image_token_id=token('<|image_pad|>'), video_token_id=token('<|video_pad|>'),
        vision_start_token_id=token('<|vision_start|>'), vision_end_token_id=token('<|vision_end|>'))
    chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}"
                     "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ c['text'] }}"
                     "{% endif %}{% endfor %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
                     "{% endif %}")
    processor = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=56 * 56),
                                 tokenizer=tokenizer, video_processor=Qwen2VLVideoProcessor(), chat_template=chat_template)
    folder = tmp_path_factory.mktemp('tiny_qwen2_vl')
    Qwen2VLForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
