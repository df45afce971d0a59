"""UniQA (arXiv 2406.01069) quality scoring: frozen UniQA CLIP + residual adapter + level prompts.

score(x) = mean over prompt groups g of  sum_k softmax_k(s * cos(f'(x), t_gk)) * level_k

- f'(x) = f + adapter(f), f the CLIP image feature (``adapter.py``); without the adapter f' = f;
- t_gk the text feature of the k-th of the five level prompts of group g (``prompts.py``), encoded
  once per weights and cached (the official code re-encodes them on every forward);
- s = exp(logit_scale) of the frozen CLIP;
- level_k the learnable ``score_level``, initialised to 0.2, 0.4, 0.6, 0.8, 1.0.

Given the same backbone file, adapter checkpoint and crops, this equals the official
``UniQA_Adapter_Patchtest`` (prompt set ``level``), ``..._PromptEs`` (``ensemble``) and
``..._PromptEs_AGIQA`` (``aigc``) to 1e-5; note that the two latter default to
``pos_embedding=False`` in the official code, while here ``pos_embedding`` defaults to True
everywhere (the backbone was pre-trained with positional embeddings; pass False to reproduce those
classes exactly). In training mode one forward runs on the given crop; in eval mode the score is
the mean over test-time crops (``crops.py``).

The forward is split where the frozen part ends (``pyiqa_uniqa.backbones.frozen``):
``frozen_features`` gives the CLIP image feature of every view [B, V, D] (V = 1 in training, the
test crops in eval mode), ``forward_from_features`` the adapter, prompts and levels on each view
and the mean over views, so a trainer can cache validation features exactly. ``precision``
(fp32 | fp16 | bf16) runs the frozen tower under autocast; the adapter and the prompt logits stay
in fp32.

The CLIP model is held frozen outside ``state_dict()``, so a checkpoint holds exactly the official
trainable keys: ``adapter.fc.0.weight``, ``adapter.fc.2.weight`` and ``score_level``.
"""
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pyiqa_uniqa.backbones import (
    FrozenTowerModule,
    create_clip,
    encode_prompts,
    get_tokenizer,
)
from pyiqa_uniqa.backbones.clip_input import ClipInput
from pyiqa_uniqa.backbones.precision import check_precision, frozen_autocast
from pyiqa_uniqa.data.images import three_channels
from pyiqa_uniqa.errors import InvalidInputError, InvalidOptionError, UnknownNameError
from pyiqa_uniqa.model_folder import loads_model_folders
from pyiqa_uniqa.uniqa import VARIANTS
from pyiqa_uniqa.uniqa.adapter import ResidualAdapter
from pyiqa_uniqa.uniqa.crops import CROP_MODES, fit_to_crop, per_view, view_crops
from pyiqa_uniqa.uniqa.image_encoder import encode_image
from pyiqa_uniqa.uniqa.prompts import LEVELS_PER_GROUP, flat_prompts, prompt_groups
from pyiqa_uniqa.weights import RANDOM, WeightSource, find_weights, load_trained

UNIQA_CLIP = 'ViT-B-16-quickgelu'
UNIQA_WEIGHTS_FILE = 'UniQA_weight.pt'
UNIQA_WEIGHTS_ENV = 'UNIQA_WEIGHTS'
UNIQA_WEIGHTS_SOURCE = (
    'the UniQA authors (https://github.com/zht8506/UniQA, README "Pretrained weights"): Google Drive '
    'https://drive.google.com/file/d/1stL1EqYvjkThGDpfPWRQzvbA780FKM4n or Baidu Pan (extraction '
    'code tnnq)')
UNIQA_BACKBONE = WeightSource(UNIQA_WEIGHTS_FILE, keyword='backbone_weights', flag='--backbone-weights',
                              env_var=UNIQA_WEIGHTS_ENV, get=UNIQA_WEIGHTS_SOURCE, what='The UniQA CLIP backbone')
RANDOM_BACKBONE = RANDOM  # random CLIP weights (seed 0): for tests and the offline demo

INITIAL_SCORE_LEVELS = (0.2, 0.4, 0.6, 0.8, 1.0)


def load_uniqa_clip(model_name=UNIQA_CLIP, backbone_weights=None):
    """The frozen-to-be CLIP: from ``backbone_weights`` (a path; None searches for the official
    ``UniQA_weight.pt``, see ``pyiqa_uniqa.weights.find_weights``) or random with ``'random'``."""
    return create_clip(model_name, backbone_weights, source=UNIQA_BACKBONE)


class UniQA(FrozenTowerModule):
    """UniQA scorer for pyiqa; every argument is reachable as ``create_metric(name, **kwargs)``.

    Args:
        backbone_weights: OpenAI-layout CLIP file (the official ``UniQA_weight.pt``); None looks
            in ``$UNIQA_WEIGHTS`` then ``$TORCH_HOME/hub/pyiqa/UniQA_weight.pt``; ``'random'``
            builds random weights (tests, offline demo).
        pretrained_model_path: adapter checkpoint (official keys, optionally under ``params``), a model
            folder written by ``pyiqa-uniqa export-model``, or ``'hf-hub:ORG/REPO'`` (its options then
            replace these arguments; see ``pyiqa_uniqa.model_folder``).
        prompt_set: ``'level'``, ``'ensemble'`` or ``'aigc'`` (the official prompts), or
            ``'caption-level'``: the level sentence of the pre-training captions ("The quality of the
            image is bad." ... "perfect."), for a backbone whose text tower learned those words
            rather than the official ones (see ``prompts.py``).
        use_adapter: add the residual adapter (False: zero-shot scoring).
        pos_embedding: add the (resized) positional embedding; False reproduces the official
            classes that drop it.
        crop_size: side of the square crops scored (224, as the official protocol).
        test_crops: ``'random'`` (``num_crops`` seeded random crops) or ``'five'`` (centre + corners).
        num_crops, crop_seed: number of random test crops and the seed of their offsets.
        model_name: open_clip model geometry (``'tiny-clip-quickgelu'`` for tests).
        precision: ``'fp32'`` (default), ``'fp16'`` or ``'bf16'`` for the frozen CLIP (autocast).
        weights_file: set by the per-dataset metric configs (``uniqa-koniq``...; the table is
            ``pyiqa_uniqa.uniqa.VARIANTS``): the name under which their adapter is looked up in pyiqa's
            cache dir (``$TORCH_HOME/hub/pyiqa/uniqa_koniq_adapter.pth``) when ``pretrained_model_path``
            is not given; a missing one is reported with the recipe that trains it.
    """

    weight_sources = {'backbone_weights': UNIQA_BACKBONE}  # what the train command checks before starting

    @classmethod
    def sources_for(cls, weights_file=None, **_):
        """keyword -> ``WeightSource`` of every file a metric config with these options needs."""
        return VARIANTS.sources_for(cls.weight_sources, weights_file)

    @loads_model_folders('UniQA')
    def __init__(self, backbone_weights=None, pretrained_model_path=None, prompt_set='level',
                 use_adapter=True, pos_embedding=True, crop_size=224, test_crops='random',
                 num_crops=10, crop_seed=0, model_name=UNIQA_CLIP, weights_file=None, precision='fp32'):
        super().__init__()
        self.precision = check_precision(precision, 'cpu')  # the vocabulary; the device is checked when it runs
        if test_crops not in CROP_MODES:
            raise UnknownNameError(f'test_crops must be one of {CROP_MODES}, got {test_crops!r}.')
        if num_crops < 1 or crop_size < 1:
            raise InvalidOptionError(f'num_crops and crop_size must be >= 1, got {num_crops} and {crop_size}.')
        self.groups = len(prompt_groups(prompt_set))
        self.prompts = flat_prompts(prompt_set)
        self.pos_embedding = pos_embedding
        self.crop_size = crop_size
        self.test_crops = test_crops
        self.num_crops = num_crops
        self.crop_seed = crop_seed

        clip = self.hold_frozen('clip', load_uniqa_clip(model_name, backbone_weights))
        self.tokenizer = get_tokenizer(model_name)
        embed_dim = clip.visual.output_dim
        self.adapter = ResidualAdapter(embed_dim) if use_adapter else None
        self.score_level = nn.Parameter(torch.tensor(INITIAL_SCORE_LEVELS))
        self.clip_input = ClipInput.of(clip)
        if pretrained_model_path or weights_file:
            source = VARIANTS.source(weights_file or Path(str(pretrained_model_path)).name)
            self.load_adapter(find_weights(source, pretrained_model_path))

    def load_adapter(self, path):
        """Load trainable weights saved by pyiqa (``{'params': ...}``) or the official repo."""
        load_trained(self, path, what=f'UniQA (use_adapter={self.adapter is not None})')

    def text_features(self):
        """L2-normalised prompt features [groups * 5, D]; the text tower runs once per weights."""
        return F.normalize(encode_prompts(self.clip, self.tokenizer, self.prompts), dim=-1)

    def frozen_features(self, images):
        """CLIP image features of every view [B, V, D] (float32), for images [B, 3, H, W] in [0, 1]."""
        images = self._as_batch(images)
        if self.training:
            return self.encode(fit_to_crop(images, self.crop_size))[:, None]
        crops, views = view_crops(images, self.crop_size, self.test_crops, self.num_crops, self.crop_seed)
        return per_view(self.encode(crops), views, len(images))

    def forward_from_features(self, features):
        """Scores [B, 1]: adapter, prompts and levels on each of the V views, then their mean."""
        return self.score_features(features.flatten(0, 1)).reshape(features.shape[:2]).mean(dim=1, keepdim=True)

    def frozen_features_key(self):
        return ('UniQA', self.training, self.crop_size, self.test_crops, self.num_crops, self.crop_seed,
                self.pos_embedding, self.precision)

    def forward(self, images):
        return self.forward_from_features(self.frozen_features(images))

    def encode(self, crops):
        """Features [N, D] of crops at the size to encode, through the frozen image tower."""
        # a graph only when a caller wants gradients w.r.t. the image (as_loss); no_grad rather
        # than inference_mode, whose tensors the adapter could not save for its backward pass
        with torch.set_grad_enabled(torch.is_grad_enabled() and crops.requires_grad), \
                frozen_autocast(self.precision, crops.device):
            features = encode_image(self.clip.visual, self.clip_input.normalize(crops), self.pos_embedding)
        return features.float()

    def score_features(self, features):
        """One score per feature [N] from CLIP image features [N, D]."""
        if self.adapter is not None:
            features = self.adapter(features)
        cosine = F.normalize(features, dim=-1) @ self.text_features().t()
        logits = self.clip.logit_scale.exp() * cosine
        probs = logits.reshape(len(logits), self.groups, LEVELS_PER_GROUP).softmax(dim=-1)
        return (probs * self.score_level).sum(dim=-1).mean(dim=-1)

    @staticmethod
    def _as_batch(images):
        if images.ndim == 3:
            images = images[None]
        try:
            return three_channels(images)
        except ValueError as err:
            raise InvalidInputError(f'UniQA expects images [B, 3, H, W] in [0, 1]: {err}.') from None
