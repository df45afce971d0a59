"""``UniQAPretrainCLIP``: the CLIP that UniQA pre-training trains, both towers by default.

forward(images, text_tokens) -> (image features, text features, logit_scale) for the contrastive
loss; forward(images) alone -> a zero-shot quality score in [0, 1] (the expected level under a
softmax over the five level prompts, averaged over the UniQA metric's test-time crops), which is
what pyiqa's validation loop correlates with MOS.

Template captions repeat (a handful of levels and distortions), so a batch holds the same caption
many times: the text tower encodes each distinct caption once and the features are shared, which
gives exactly the features and gradients of encoding every copy.

The whole CLIP is a registered submodule (``self.clip``): unlike the downstream metric, the
backbone is what is being trained, so it belongs in checkpoints. Options freeze either tower or
replace full fine-tuning with LoRA (peft) on the MLP layers; ``logit_scale`` (the learnable
temperature) trains in every mode.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from pyiqa_uniqa.backbones import OPENAI_CLIP, create_clip, encode_prompts, get_tokenizer
from pyiqa_uniqa.backbones.clip_input import ClipInput
from pyiqa_uniqa.errors import InvalidOptionError, UnknownNameError
from pyiqa_uniqa.uniqa.crops import CROP_MODES, per_view, view_crops
from pyiqa_uniqa.uniqa.prompts import flat_prompts

# LoRA goes on the linear layers of every block's MLP. Not on attention: open_clip uses
# nn.MultiheadAttention, whose out_proj is read as a weight (a LoRA on it alone is never applied)
# and whose peft wrapper (experimental) merges out_proj twice in peft 0.21, so an exported merge
# would not be the network that was trained.
DEFAULT_LORA = {'r': 16, 'alpha': 32, 'dropout': 0.0, 'target_modules': ['c_fc', 'c_proj']}
UNSUPPORTED_LORA_TARGETS = ('attn', 'out_proj', 'in_proj')


class UniQAPretrainCLIP(nn.Module):
    """Args (beyond the towers, LoRA and temperature options):
        backbone_weights: OpenAI-layout file, open_clip tag, ``'random'`` (the seeded random init that
            the ``uniqa`` metrics build for ``backbone_weights='random'``), or None for OpenAI's
            weights (the official starting point), as everywhere in this package.
        zero_shot_prompts: validation prompts, worst to best: a list, or the name of a one-group prompt
            set of the UniQA metric (default ``'level'``; ``'caption-level'`` asks in the captions' words).
        test_crops, num_crops, crop_seed: the metric's test-time crops for zero-shot validation.
    """
    weight_sources = {'backbone_weights': OPENAI_CLIP}  # what the train command checks before starting

    def __init__(self, clip_model='ViT-B-16-quickgelu', backbone_weights=None, train_image_tower=True,
                 train_text_tower=True, lora=None, zero_shot_prompts=None, max_logit_scale=100.0,
                 test_crops='random', num_crops=10, crop_seed=0):
        super().__init__()
        if test_crops not in CROP_MODES:
            raise UnknownNameError(f'test_crops must be one of {CROP_MODES}, got {test_crops!r}.')
        self.clip_model = clip_model
        self.clip = create_clip(clip_model, backbone_weights)
        self.test_crops, self.num_crops, self.crop_seed = test_crops, num_crops, crop_seed
        # images arrive in [0, 1] (pyiqa's convention); its buffers are not persistent, so
        # checkpoints stay CLIP-only
        self.clip_input = ClipInput.of(self.clip)
        self.crop_size = self.clip_input.size
        self.tokenizer = get_tokenizer(clip_model)
        zero_shot_prompts = zero_shot_prompts or 'level'
        self.zero_shot_prompts = list(flat_prompts(zero_shot_prompts) if isinstance(zero_shot_prompts, str)
                                      else zero_shot_prompts)
        self.max_log_scale = math.log(max_logit_scale)
        if lora:
            self._add_lora({**DEFAULT_LORA, **(lora if isinstance(lora, dict) else {})})
        else:
            self.clip.visual.requires_grad_(train_image_tower)
            for name, parameter in self.clip.named_parameters():
                if not name.startswith('visual.') and name != 'logit_scale':
                    parameter.requires_grad_(train_text_tower)
        if not any(p.requires_grad for n, p in self.clip.named_parameters() if n != 'logit_scale'):
            raise InvalidOptionError('Both CLIP towers are frozen and LoRA is off: nothing but the temperature '
                                     'would train.')

    def _add_lora(self, options):
        from pyiqa_uniqa.backbones import lora  # only LoRA runs need peft, which imports transformers (seconds)
        unsupported = [t for t in options['target_modules'] if t.split('.')[-1] in UNSUPPORTED_LORA_TARGETS]
        if unsupported:
            raise InvalidOptionError(f'LoRA on {unsupported} is not supported (attention layers are '
                                     "nn.MultiheadAttention); target the MLP layers, e.g. ['c_fc', 'c_proj'].")
        config = lora.LoraConfig(r=options['r'], lora_alpha=options['alpha'], lora_dropout=options['dropout'],
                                 target_modules=list(options['target_modules']))
        lora.inject_adapter_in_model(config, self.clip)  # in place; the open_clip class stays
        for name, parameter in self.clip.named_parameters():
            parameter.requires_grad_('lora_' in name or name == 'logit_scale')
        # export merges the adapters into the base weights and needs the scale they were trained with
        self.register_buffer('lora_scaling', torch.tensor(options['alpha'] / options['r']))

    def clamp_logit_scale(self):
        """CLIP caps the temperature at 100 (log 4.6052); called after each optimiser step."""
        with torch.no_grad():
            self.clip.logit_scale.clamp_(0, self.max_log_scale)

    def encode_image(self, images):
        return self.clip.encode_image(self.clip_input.normalize(images))

    def forward(self, images, text_tokens=None):
        """images: [B, 3, H, W] in [0, 1]; text_tokens: [B, context] or None for zero-shot scores."""
        if text_tokens is None:
            crops, views = view_crops(images, self.crop_size, self.test_crops, self.num_crops, self.crop_seed)
            return per_view(self.zero_shot_score(crops), views, len(images)).mean(dim=1)
        distinct, copies = torch.unique(text_tokens, dim=0, return_inverse=True)
        return self.encode_image(images), self.clip.encode_text(distinct)[copies], self.clip.logit_scale.exp()

    def zero_shot_score(self, images):
        """[B, 1] expected level (0 = first prompt, 1 = last) under softmax over the level prompts,
        for images at the model's input size."""
        text = F.normalize(encode_prompts(self.clip, self.tokenizer, self.zero_shot_prompts), dim=-1)
        image = F.normalize(self.encode_image(images), dim=-1)
        probabilities = (self.clip.logit_scale.exp() * image @ text.T).softmax(dim=-1)
        levels = torch.linspace(0, 1, len(self.zero_shot_prompts), device=images.device)
        return (probabilities @ levels).unsqueeze(1)
