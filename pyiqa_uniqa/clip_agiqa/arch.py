"""CLIP-AGIQA network (Tang et al., ICPR 2024; official code github.com/wzczc/CLIP-AGIQA).

Frozen CLIP ViT-B/16; six quality-level prompts "<learned context> terrible|bad|poor|average|
good|perfect."; the unit-norm image feature concatenated with the six unit-norm text features
(7 x 512) goes through dropout -> Linear(3584, 512) -> ReLU -> dropout -> Linear(512, 1), which
predicts the MOS (MSE, raw MOS scale, as the official trainer). Only the context and the
regressor train; CLIP is held outside the state dict, so a checkpoint is the context plus the
head. The regressor keeps the official layer order, and a run folder of the official trainer
loads unchanged (``official_checkpoint=``), its context length and kind taken from the files.

Outside training the six text features depend only on the context, so they are computed once
and reused until the context changes (``as_loss`` included: the gradient goes to the image only).
"""
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pyiqa_uniqa.backbones import FrozenTowerModule, create_clip, get_tokenizer
from pyiqa_uniqa.backbones.frozen import tensor_state
from pyiqa_uniqa.backbones.clip import OPENAI_CLIP
from pyiqa_uniqa.backbones.clip_input import ClipInput
from pyiqa_uniqa.backbones.precision import check_precision, frozen_autocast
from pyiqa_uniqa.clip_agiqa import VARIANTS
from pyiqa_uniqa.clip_agiqa.official_checkpoint import read_official_checkpoint
from pyiqa_uniqa.clip_agiqa.prompt_learner import PromptLearner, encode_text_embeddings
from pyiqa_uniqa.data.images import three_channels
from pyiqa_uniqa.model_folder import loads_model_folders
from pyiqa_uniqa.weights import (
    CheckpointMismatchError,
    find_weights,
    load_trained,
    read_state_dict,
)

QUALITY_LEVELS = ('terrible', 'bad', 'poor', 'average', 'good', 'perfect')


class CLIPAGIQA(FrozenTowerModule):
    """Args:
        model_name: the frozen CLIP's open_clip name (official: ViT-B/16 with QuickGELU).
        backbone_weights: its weights: a path to an OpenAI-layout file, an open_clip tag, or
            'random'; None = 'openai' (the official CLIP).
        context_init: words that start the context (official ``_ctxv1`` configs: 'a photo of a');
            '' (default, as the official README command) for ``n_ctx`` random vectors.
        n_ctx: number of random context vectors (official default 16).
        class_specific_context: one context per quality level (official ``CSC True``).
        class_names: the quality levels named in the prompts.
        head_hidden, dropout: regressor geometry (official: 512, 0.5).
        pretrained_model_path / weights_file: a checkpoint of this network (context + head), a model
            folder written by ``pyiqa-uniqa export-model`` or ``'hf-hub:ORG/REPO'`` (its options then
            replace these arguments; see ``pyiqa_uniqa.model_folder``); a metric config sets
            ``weights_file`` (the table is ``pyiqa_uniqa.clip_agiqa.VARIANTS``), which makes one required.
        official_checkpoint: a run folder of the official trainer (its ``--output-dir``, holding
            ``prompt_learner/`` and ``regression/``), used instead of the two above.
        official_epoch: load ``model.pth.tar-<N>`` instead of ``model-best.pth.tar``.
        precision: 'fp32' (default), 'fp16' or 'bf16' for the frozen CLIP (the official code runs
            it in fp16 on GPU); the context and the head stay fp32.

    A checkpoint (ours or official) fixes the context: its length and kind come from the file,
    whatever ``context_init``/``n_ctx``/``class_specific_context`` say.
    """
    weight_sources = {'backbone_weights': OPENAI_CLIP}  # what the train command checks before starting

    @classmethod
    def sources_for(cls, weights_file=None, **_):
        """keyword -> ``WeightSource`` of every file a metric config with these options needs."""
        return VARIANTS.sources_for(cls.weight_sources, weights_file)

    @loads_model_folders('CLIPAGIQA')
    def __init__(self, model_name='ViT-B-16-quickgelu', backbone_weights=None, context_init='', n_ctx=16,
                 class_specific_context=False, class_names=QUALITY_LEVELS, head_hidden=512, dropout=0.5,
                 pretrained_model_path=None, weights_file=None, official_checkpoint=None, official_epoch=None,
                 precision='fp32'):
        super().__init__()
        official = read_official_checkpoint(official_checkpoint, official_epoch) if official_checkpoint else None
        if official is not None:
            checkpoint, source = official.state_dict(), official.source
        elif pretrained_model_path is not None or weights_file is not None:
            source = find_weights(VARIANTS.source(weights_file or Path(pretrained_model_path).name),
                                  pretrained_model_path)
            checkpoint = read_state_dict(source)
        else:
            checkpoint = None
        if checkpoint is not None and torch.is_tensor(checkpoint.get('prompt_learner.ctx')):
            # a trained context fixes the geometry: [n_ctx, D], or [levels, n_ctx, D] per level
            ctx = checkpoint['prompt_learner.ctx']
            context_init, n_ctx, class_specific_context = '', ctx.shape[-2], ctx.dim() == 3
        clip_model = create_clip(model_name, weights=backbone_weights, source=OPENAI_CLIP)
        self.hold_frozen('clip', clip_model)
        self.prompt_learner = PromptLearner(clip_model, get_tokenizer(model_name), class_names, context_init, n_ctx,
                                            class_specific_context)
        width = clip_model.text_projection.shape[1] if torch.is_tensor(clip_model.text_projection) \
            else clip_model.text_projection.out_features
        self.regressor = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(width * (len(class_names) + 1), head_hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(head_hidden, 1))
        self.clip_input = ClipInput.of(clip_model)
        self.precision = check_precision(precision, 'cpu')  # the device is checked again when it runs
        self._text_cache = None
        if official is not None:
            self._check_official_prompts(official)
        if checkpoint is not None:
            load_trained(self, checkpoint, source=str(source), what=(
                f'CLIPAGIQA ({len(self.prompt_learner.class_names)} quality levels, '
                f'{self.regressor[1].in_features} head inputs)'))
        self.eval()

    def _check_official_prompts(self, official):
        """The file keeps the embeddings of its prompts' fixed tokens (start, "<level>.", end), made
        from the CLIP and class names of the run; ours must be the same for the scores to be."""
        theirs = (official.prompt_learner.get('token_prefix'), official.prompt_learner.get('token_suffix'))
        ours = (self.prompt_learner.token_prefix, self.prompt_learner.token_suffix)
        if any(t is None for t in theirs):
            return
        if official.class_count != len(self.prompt_learner.class_names) or theirs[1].shape != ours[1].shape:
            raise CheckpointMismatchError(
                f'{official.source} was trained with {official.class_count} quality levels and '
                f'{tuple(theirs[1].shape)} suffix tokens; this model has {len(self.prompt_learner.class_names)} '
                f'levels ({", ".join(self.prompt_learner.class_names)}) and {tuple(ours[1].shape)}: pass the '
                'class_names of the run.')
        if not all(torch.equal(t.half(), o.half()) for t, o in zip(theirs, ours)):
            warnings.warn(
                f'{official.source}: the prompt token embeddings in the file differ from those of the given CLIP: '
                'the run used other CLIP weights or other class names, and the scores will not be the official ones '
                '(pass the CLIP of the run as backbone_weights=...).', stacklevel=3)

    def text_features(self):
        """Unit-norm features of the quality-level prompts [C, D]."""
        ctx = self.prompt_learner.ctx
        key = tensor_state([ctx])  # new context values (training, a checkpoint, .to()) change it
        # outside training the context is fixed (also under as_loss, where only the image needs grad)
        reuse = not (self.training and torch.is_grad_enabled() and ctx.requires_grad)
        if reuse and self._text_cache is not None and self._text_cache[0] == key:
            return self._text_cache[1]
        with frozen_autocast(self.precision, ctx.device):
            features = encode_text_embeddings(self.clip, self.prompt_learner(), self.prompt_learner.tokens)
        features = F.normalize(features.float(), dim=-1)
        self._text_cache = (key, features.detach()) if reuse else None
        return features

    # the frozen-feature protocol (backbones/frozen.py): CLIP's image features are cached by trainers
    def frozen_features(self, images):
        """Unit-norm CLIP features [B, 1, D] of the one view CLIP-AGIQA scores (the centre crop)."""
        x = self.clip_input(three_channels(images))
        with frozen_autocast(self.precision, x.device):
            features = self.clip.encode_image(x)
        return F.normalize(features.float(), dim=-1).unsqueeze(1)

    def forward_from_features(self, features):
        """[B, V, D] image features -> scores [B, 1]: the head on each view with the prompts, view mean."""
        text = self.text_features().flatten()
        combined = torch.cat([features, text.expand(*features.shape[:2], -1)], dim=-1)
        return self.regressor(combined).mean(dim=1)

    def frozen_features_key(self):
        return ('CLIPAGIQA', self.training, self.clip_input.size, self.precision)

    def forward(self, x):
        return self.forward_from_features(self.frozen_features(x))
