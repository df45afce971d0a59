"""ATTIQA network: a timm backbone, five attribute heads (pre-training) and a quality head (MOS).

Defaults are our choices where the paper is silent (docs/attiqa.md lists them):
ResNet-50 with global average pooling and 2-layer MLP heads (features -> 512 -> 1).

``forward(x)`` returns the quality score [B, 1] so pyiqa's metric wrapper, CLI and ``as_loss``
work unchanged; ``forward(x, return_attributes=True)`` returns ``(quality, {attribute: [B, 1]})``
(a tuple, so ``as_loss`` still takes the quality as its first element). Attribute scores are
uncalibrated: higher means more of the attribute, comparable between images.

No official weights exist. A metric config names a checkpoint file (``weights_file``, from the
variant table ``pyiqa_uniqa.attiqa.VARIANTS``); it is looked up as an explicit
``pretrained_model_path`` (a file, an exported model folder or ``'hf-hub:ORG/REPO'``), then in pyiqa's
cache dir, and when absent the error says how to train one.
"""
import contextlib
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import nn

from pyiqa_uniqa.attiqa import VARIANTS
from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.attiqa.errors import InputError
from pyiqa_uniqa.backbones import FrozenTowerModule
from pyiqa_uniqa.backbones.precision import check_precision, frozen_autocast
from pyiqa_uniqa.data.images import three_channels
from pyiqa_uniqa.model_folder import loads_model_folders
from pyiqa_uniqa.weights import (
    RANDOM,
    CheckpointMismatchError,
    WeightSource,
    find_weights,
    load_trained,
    require_hf_model,
    resolve_weights,
)

# where the weights come from, as data (like timm's pretrained cfgs)
IMAGENET_BACKBONE = WeightSource(
    'model.safetensors', keyword='backbone_weights', default_tag='imagenet', what="The backbone's ImageNet weights",
    get="the backbone's Hugging Face repo (for resnet50: https://huggingface.co/timm/resnet50.a1_in1k)")


class ScoreHead(nn.Sequential):
    """features -> hidden -> 1."""

    def __init__(self, in_features, hidden, dropout):
        super().__init__(nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                         nn.Linear(hidden, 1))


def create_timm_backbone(name, weights=None, source=IMAGENET_BACKBONE, seed=0):
    """A timm model without classifier (pooled features).

    weights: None or 'imagenet' (timm's default ImageNet weights from the Hugging Face Hub), another
    timm pretrained tag (``'a1_in1k'``), a path to a local timm checkpoint, or 'random' (seeded).
    """
    if name not in timm.list_models():
        raise InputError(f'Unknown timm backbone {name!r} (see timm.list_models()).')
    value = resolve_weights(source, weights)
    if value == RANDOM:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return timm.create_model(name, pretrained=False, num_classes=0)
    if isinstance(value, Path):
        return timm.create_model(name, pretrained=True, num_classes=0, pretrained_cfg_overlay={'file': str(value)})
    model_name = name if value == source.default_tag else f'{name}.{value}'
    try:
        config = timm.models.get_pretrained_cfg(model_name)
    except RuntimeError as err:  # an unknown tag
        raise InputError(f'The given {source.keyword} {value!r} is not a pretrained tag timm knows for {name}, nor an '
                         f'existing file. Pass None for ImageNet weights, a timm tag, a path, or {RANDOM!r}.') from err
    if config is None or not config.hf_hub_id:
        raise InputError(f'timm has no pretrained weights for {model_name}; pass a path as {source.keyword}= or '
                         f'{RANDOM!r}.')
    require_hf_model(config.hf_hub_id, source, filename=config.hf_hub_filename or source.filename)
    return timm.create_model(model_name, pretrained=True, num_classes=0)


class ATTIQA(FrozenTowerModule):
    """Args:
        backbone: timm model name (``resnet50``; anything timm builds with global pooling).
        backbone_weights: the backbone's initial weights: None (timm's ImageNet weights, from the
            Hugging Face Hub or its cache), a timm pretrained tag, a local timm file, or 'random'.
            Not fetched when a complete checkpoint is given (it holds the backbone).
        head_hidden, head_dropout: MLP head geometry.
        freeze_backbone: train the heads only (linear-probe style fine-tuning); the backbone is then
            held frozen (eval mode, outside ``state_dict()``), so checkpoints hold the heads only.
        pretrained_model_path: a checkpoint of this network (``{'params': ...}`` or a bare state dict), a
            model folder written by ``pyiqa-uniqa export-model``, or ``'hf-hub:ORG/REPO'`` (its options then
            replace these arguments; see ``pyiqa_uniqa.model_folder``).
        base_model_path: a checkpoint loaded first, for heads-only checkpoints written with
            ``freeze_backbone`` (pass the pre-training checkpoint the backbone came from).
        weights_file: the checkpoint's file name in pyiqa's cache dir; set by the metric configs,
            which makes a checkpoint required.
        min_input_size: smaller inputs are upsampled to this side length.
        precision: 'fp32' (default), 'fp16' or 'bf16' for the backbone when it is frozen or scoring
            (a backbone being fine-tuned runs at the training step's precision); the heads stay fp32.
    """
    weight_sources = {'backbone_weights': IMAGENET_BACKBONE}  # what the train command checks before starting

    @classmethod
    def sources_for(cls, weights_file=None, **_):
        """keyword -> ``WeightSource`` of every file a metric config with these options needs."""
        return VARIANTS.sources_for(cls.weight_sources, weights_file)

    @loads_model_folders('ATTIQA')
    def __init__(self, backbone='resnet50', backbone_weights=None, head_hidden=512, head_dropout=0.0,
                 freeze_backbone=False, pretrained_model_path=None, base_model_path=None, weights_file=None,
                 min_input_size=32, precision='fp32'):
        super().__init__()
        checkpoint = None
        if pretrained_model_path is not None or weights_file is not None:
            checkpoint = find_weights(VARIANTS.source(weights_file or Path(pretrained_model_path).name),
                                      pretrained_model_path)
        # a checkpoint that holds the backbone replaces its initial weights: do not fetch them
        network = create_timm_backbone(backbone, RANDOM if checkpoint or base_model_path else backbone_weights)
        if freeze_backbone:
            self.hold_frozen('backbone', network)
        else:
            self.backbone = network
        config = network.pretrained_cfg
        self.register_buffer('mean', torch.tensor(config.get('mean', (0.485, 0.456, 0.406))).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(config.get('std', (0.229, 0.224, 0.225))).view(1, 3, 1, 1),
                             persistent=False)
        features = self.backbone.num_features
        self.attribute_heads = nn.ModuleDict(
            {name: ScoreHead(features, head_hidden, head_dropout) for name in ATTRIBUTES})
        self.quality_head = ScoreHead(features, head_hidden, head_dropout)
        self.min_input_size = min_input_size
        self.freeze_backbone = freeze_backbone
        self.precision = check_precision(precision, 'cpu')  # the device is checked again when it runs
        if base_model_path is not None:
            self.load_checkpoint(base_model_path, complete=False)
        if checkpoint is not None:
            self.load_checkpoint(checkpoint, complete=base_model_path is None)
        self.eval()

    def load_checkpoint(self, path, complete=True):
        """Load a checkpoint (safely: no pickled code runs). ``complete``: every tensor must be there."""
        try:
            load_trained(self.with_backbone(), path, expect='complete' if complete else 'partial',
                         what=f'ATTIQA(backbone={self.backbone.__class__.__name__})',
                         hint='Was it trained with another backbone=? Pass the same backbone option.')
        except CheckpointMismatchError as err:
            if err.missing and not (err.unexpected or err.wrong_shape) and \
                    all(k.startswith('backbone.') for k in err.missing):
                raise CheckpointMismatchError(
                    f'{err} It holds only the heads (trained with freeze_backbone): also pass '
                    'base_model_path=<the pre-training checkpoint>.', err.missing) from None
            raise

    def with_backbone(self):
        """The network with its backbone registered even when held frozen: the modules are shared, so
        its ``state_dict()`` is every tensor of the model, and loading into it loads into this one."""
        whole = nn.Module()
        whole.backbone = self.backbone
        whole.attribute_heads = self.attribute_heads
        whole.quality_head = self.quality_head
        return whole

    def _backbone_precision(self, device):
        # a backbone being fine-tuned runs at the training step's precision; otherwise at ours
        if self.training and not self.freeze_backbone:
            return contextlib.nullcontext()
        return frozen_autocast(self.precision, device)

    # the frozen-feature protocol (backbones/frozen.py): with freeze_backbone, trainers cache these
    def frozen_features(self, images):
        """Pooled backbone features [B, 1, F] of the whole image (ATTIQA scores one view)."""
        x = three_channels(images)  # pyiqa metrics accept grayscale (and RGBA) tensors
        short_side = min(x.shape[-2:])
        if short_side < self.min_input_size:
            scale = self.min_input_size / short_side
            x = F.interpolate(x, scale_factor=scale, mode='bilinear', align_corners=False)
        with self._backbone_precision(x.device):
            features = self.backbone((x - self.mean) / self.std)
        return features.float().unsqueeze(1)

    def forward_from_features(self, features, return_attributes=False):
        """[B, V, F] -> quality [B, 1] (and ``{attribute: [B, 1]}``), each the mean over the views."""
        quality = self.quality_head(features).mean(dim=1)
        if not return_attributes:
            return quality
        return quality, {name: head(features).mean(dim=1) for name, head in self.attribute_heads.items()}

    def frozen_features_key(self):
        if not self.freeze_backbone:
            return None  # a trainable backbone: its features change with every step
        return ('ATTIQA', self.training, self.min_input_size, self.precision)

    def forward(self, x, return_attributes=False):
        return self.forward_from_features(self.frozen_features(x), return_attributes)
