"""CLIP-AGIQA network (Tang et al., ICPR 2024; official code github.com/wzczc/CLIP-AGIQA).

Frozen CLIP ViT-B/16; six quality-level prompts "<learned context> terrible|bad|poor|average|
good|perfect."; the unit-norm image feature concatenated with the six unit-norm text features
(7 x 512) goes through dropout -> Linear(3584, 512) -> ReLU -> dropout -> Linear(512, 1), which
predicts the MOS (MSE, raw MOS scale, as the official trainer). Only the context and the
regressor train; CLIP is held outside the state dict, so a checkpoint is the context plus the
head (about 1.8M numbers). The regressor keeps the official layer order, so checkpoints of the
official trainer load unchanged (``official_checkpoint=``).

Outside training the six text features depend only on the context, so they are computed once
and reused until the context changes (``as_loss`` included: the gradient goes to the image only).
"""
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pyiqa_uniqa.backbones import FrozenTowerModule, create_clip, get_tokenizer
from pyiqa_uniqa.clip_agiqa.prompt_learner import PromptLearner, encode_text_embeddings
from pyiqa_uniqa.weights import RANDOM

QUALITY_LEVELS = ('terrible', 'bad', 'poor', 'average', 'good', 'perfect')
HOW_TO_TRAIN = ('`pyiqa-uniqa train -opt options/clip_agiqa/agiqa3k.yml` (or aigciqa2023.yml); it saves '
                'experiments/<name>/models/net_best.pth')


class CLIPAGIQA(FrozenTowerModule):
    """Args:
        model_name / clip_weights: the frozen CLIP (``create_clip``); 'openai' = OpenAI ViT-B/16.
        context_init: initial context words ('a photo of a', official); '' for ``n_ctx`` random vectors.
        class_names: the quality levels named in the prompts.
        head_hidden, dropout: regressor geometry (official: 512, 0.5).
        pretrained_model_path / weights_file: a trained checkpoint (context + head); a metric
            config sets ``weights_file``, which makes one required.
        official_checkpoint: ``(prompt_learner file, regression file)`` saved by the official
            trainer (``output/.../prompt_learner/model-best.pth.tar`` and ``.../regression/...``);
            used instead of ``pretrained_model_path``/``weights_file``.
    """

    def __init__(self, model_name='ViT-B-16-quickgelu', clip_weights='openai', context_init='a photo of a',
                 n_ctx=16, class_names=QUALITY_LEVELS, head_hidden=512, dropout=0.5,
                 pretrained_model_path=None, weights_file=None, official_checkpoint=None):
        super().__init__()
        from open_clip import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
        clip_model = create_clip(model_name, weights=RANDOM if clip_weights in (None, RANDOM) else clip_weights)
        self.hold_frozen('clip', clip_model)
        self.prompt_learner = PromptLearner(clip_model, get_tokenizer(model_name), class_names, context_init, n_ctx)
        width = clip_model.text_projection.shape[1] if torch.is_tensor(clip_model.text_projection) \
            else clip_model.text_projection.out_features
        self.regressor = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(width * (len(class_names) + 1), head_hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(head_hidden, 1))
        size = clip_model.visual.image_size
        self.input_size = size[0] if isinstance(size, (tuple, list)) else int(size)
        self.register_buffer('mean', torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1), persistent=False)
        self._text_cache = None
        if official_checkpoint is not None:
            self.load_official_checkpoint(*official_checkpoint)
        elif pretrained_model_path is not None or weights_file is not None:
            from pyiqa_uniqa.weights import WeightSource, find_weights
            source = WeightSource(weights_file or Path(pretrained_model_path).name, keyword='pretrained_model_path',
                                  train=HOW_TO_TRAIN, what='The CLIP-AGIQA checkpoint')
            self.load_checkpoint(find_weights(source, pretrained_model_path))
        self.eval()

    def load_official_checkpoint(self, prompt_learner_path, regression_path):
        """The official trainer saves each part as ``{'state_dict': ..., 'epoch': ...}``; its
        ``token_prefix``/``token_suffix`` are derived from CLIP and dropped, as the official loader does."""
        from pyiqa_uniqa.weights import load_state_dict, unwrap_params
        prompt = unwrap_params(load_state_dict(prompt_learner_path), key='state_dict')
        regression = unwrap_params(load_state_dict(regression_path), key='state_dict')
        state_dict = {'prompt_learner.ctx': prompt.get('ctx')}
        state_dict.update({f'regressor.{k}': v for k, v in regression.items()})
        if state_dict['prompt_learner.ctx'] is None:
            raise ValueError(f'{prompt_learner_path} has no ctx tensor; is it the prompt_learner checkpoint?')
        self._load_checked(state_dict, f'{prompt_learner_path} + {regression_path}')

    def load_checkpoint(self, path):
        from pyiqa_uniqa.weights import load_state_dict, unwrap_params
        self._load_checked(unwrap_params(load_state_dict(path)), path)

    def _load_checked(self, state_dict, path):
        own = self.state_dict()
        problems = sorted(set(own) ^ set(state_dict)) + sorted(
            k for k in set(own) & set(state_dict) if own[k].shape != state_dict[k].shape)
        if problems:
            raise ValueError(f'{path} does not fit CLIPAGIQA (context {tuple(own["prompt_learner.ctx"].shape)}, '
                             f'{len(self.prompt_learner.class_names)} levels): mismatched keys/shapes {problems[:6]}.')
        self.load_state_dict(state_dict)

    def text_features(self):
        """Unit-norm features of the quality-level prompts [C, D]."""
        ctx = self.prompt_learner.ctx
        key = (ctx.data_ptr(), ctx._version, ctx.device)
        # outside training the context is fixed (also under as_loss, where only the image needs grad)
        reuse = not (self.training and torch.is_grad_enabled() and ctx.requires_grad)
        if reuse and self._text_cache is not None and self._text_cache[0] == key:
            return self._text_cache[1]
        features = F.normalize(encode_text_embeddings(
            self.clip, self.prompt_learner(), self.prompt_learner.tokens).float(), dim=-1)
        self._text_cache = (key, features.detach()) if reuse else None
        return features

    def forward(self, x):
        from pyiqa_uniqa.backbones.clip_input import resize_center_crop
        from pyiqa_uniqa.data.images import three_channels
        x = resize_center_crop(three_channels(x), self.input_size)
        image = F.normalize(self.clip.encode_image((x - self.mean) / self.std).float(), dim=-1)
        text = self.text_features()
        features = torch.cat([image, text.flatten().unsqueeze(0).expand(image.shape[0], -1)], dim=1)
        return self.regressor(features)
