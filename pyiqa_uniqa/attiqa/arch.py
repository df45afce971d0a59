"""ATTIQA network: a timm backbone, five attribute heads (pre-training) and a quality head (MOS).

Defaults follow our re-implementation proposal (research/attiqa.md §9; the paper body was not
reachable): ResNet-50 with global average pooling and 2-layer MLP heads (features -> 512 -> 1).

``forward(x)`` returns the quality score [B, 1] so pyiqa's metric wrapper, CLI and ``as_loss``
work unchanged; ``forward(x, return_attributes=True)`` returns ``(quality, {attribute: [B, 1]})``
(a tuple, so ``as_loss`` still takes the quality as its first element). Attribute scores are
uncalibrated: higher means more of the attribute, comparable between images.

No official weights exist. A metric config names a checkpoint file (``weights_file``); it is
looked up as an explicit ``pretrained_model_path``, then in pyiqa's cache dir, and when absent the
error says how to train one.
"""
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.backbones import FrozenTowerModule
from pyiqa_uniqa.data.images import three_channels

HOW_TO_TRAIN = (  # no official ATTIQA weights exist
    '`pyiqa-uniqa select-prompts --probe synthetic --out prompts.yml`, `pyiqa-uniqa label --images '
    '<unlabelled images> --prompts prompts.yml --out attrs.csv`, `pyiqa-uniqa train -opt '
    'options/attiqa/pretrain.yml`, then e.g. `pyiqa-uniqa train -opt options/attiqa/koniq.yml` (it saves '
    'experiments/<name>/models/net_best.pth; no official ATTIQA weights exist)')


class ScoreHead(nn.Sequential):
    """features -> hidden -> 1."""

    def __init__(self, in_features, hidden, dropout):
        super().__init__(nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                         nn.Linear(hidden, 1))


def create_timm_backbone(name, pretrained, backbone_weights=None):
    """A timm model without classifier (pooled features). ImageNet weights come from the Hub
    (``pretrained=True``) or a local file (``backbone_weights``)."""
    import timm
    overlay = {'file': str(Path(backbone_weights).expanduser())} if backbone_weights else None
    if overlay and not Path(overlay['file']).is_file():
        raise FileNotFoundError(f'backbone_weights: {overlay["file"]} does not exist.')
    try:
        return timm.create_model(name, pretrained=bool(pretrained or overlay), num_classes=0,
                                 pretrained_cfg_overlay=overlay)
    except RuntimeError as err:
        if 'Unknown model' in str(err):
            raise ValueError(f'Unknown timm backbone {name!r} (see timm.list_models()).') from err
        if not pretrained:
            raise
        raise RuntimeError(_no_imagenet_weights(name, err)) from err
    except OSError as err:  # offline Hugging Face Hub: LocalEntryNotFoundError and friends
        raise RuntimeError(_no_imagenet_weights(name, err)) from err


def _no_imagenet_weights(name, err):
    return (f'Could not get ImageNet weights for timm backbone {name!r} ({err.__class__.__name__}: '
            f'{str(err).splitlines()[0] if str(err) else ""}). Without network access either set '
            'pretrained: false (random init) or pass backbone_weights=<local timm checkpoint file>.')


class ATTIQA(FrozenTowerModule):
    """Args:
        backbone: timm model name (``resnet50``; anything timm builds with global pooling).
        pretrained: ImageNet initialisation from the Hugging Face Hub (off by default: offline safe).
        backbone_weights: local file with the backbone's ImageNet weights (instead of the Hub).
        head_hidden, head_dropout: MLP head geometry.
        freeze_backbone: train the heads only (linear-probe style fine-tuning); the backbone is then
            held frozen (eval mode, outside ``state_dict()``), so checkpoints hold the heads only.
        pretrained_model_path: a checkpoint of this network (``{'params': ...}`` or a bare state dict).
        base_model_path: a checkpoint loaded first, for heads-only checkpoints written with
            ``freeze_backbone`` (pass the pre-training checkpoint the backbone came from).
        weights_file: the checkpoint's file name in pyiqa's cache dir; set by the metric configs,
            which makes a checkpoint required.
        min_input_size: smaller inputs are upsampled to this side length.
    """

    def __init__(self, backbone='resnet50', pretrained=False, backbone_weights=None, head_hidden=512,
                 head_dropout=0.0, freeze_backbone=False, pretrained_model_path=None, base_model_path=None,
                 weights_file=None, min_input_size=32):
        super().__init__()
        network = create_timm_backbone(backbone, pretrained, backbone_weights)
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
        if base_model_path is not None:
            self.load_checkpoint(base_model_path, complete=False)
        if pretrained_model_path is not None or weights_file is not None:
            from pyiqa_uniqa.weights import WeightSource, find_weights
            filename = weights_file or Path(pretrained_model_path).name
            source = WeightSource(filename, keyword='pretrained_model_path', train=HOW_TO_TRAIN,
                                  what='The ATTIQA checkpoint')
            path = find_weights(source, pretrained_model_path)
            self.load_checkpoint(path, complete=base_model_path is None)
        self.eval()

    def load_checkpoint(self, path, complete=True):
        """Load a checkpoint (safely: no pickled code runs). ``complete``: every tensor must be there."""
        from pyiqa_uniqa.weights import load_state_dict, unwrap_params
        state_dict = unwrap_params(load_state_dict(path))
        own = self.full_state_dict()
        unexpected = sorted(set(state_dict) - set(own))
        wrong_shape = sorted(k for k in set(state_dict) & set(own) if state_dict[k].shape != own[k].shape)
        missing = sorted(set(own) - set(state_dict))
        problems = []
        if unexpected or wrong_shape:
            problems.append(f'unexpected keys {unexpected[:5]}, wrong shapes {wrong_shape[:5]} '
                            '(was it trained with another backbone=? pass the same backbone option)')
        if complete and missing:
            hint = (' It holds only the heads (trained with freeze_backbone): also pass '
                    'base_model_path=<the pre-training checkpoint>.'
                    if all(k.startswith('backbone.') for k in missing) else '')
            problems.append(f'missing {len(missing)} tensors, e.g. {missing[:5]}.{hint}')
        if problems:
            raise ValueError(f'{path} does not fit ATTIQA({self.backbone.__class__.__name__}): ' + '; '.join(problems))
        self.load_state_dict({k: v for k, v in state_dict.items() if not k.startswith('backbone.')
                              or not self.freeze_backbone}, strict=False)
        if self.freeze_backbone:
            backbone = {k[len('backbone.'):]: v for k, v in state_dict.items() if k.startswith('backbone.')}
            self.backbone.load_state_dict(backbone, strict=False)

    def full_state_dict(self):
        """state_dict() plus the backbone when it is held frozen (outside state_dict())."""
        own = self.state_dict()
        if self.freeze_backbone:
            own.update({f'backbone.{k}': v for k, v in self.backbone.state_dict().items()})
        return own

    def forward_features(self, x):
        x = three_channels(x)  # pyiqa metrics accept grayscale (and RGBA) tensors
        short_side = min(x.shape[-2:])
        if short_side < self.min_input_size:
            scale = self.min_input_size / short_side
            x = F.interpolate(x, scale_factor=scale, mode='bilinear', align_corners=False)
        return self.backbone((x - self.mean) / self.std)

    def forward(self, x, return_attributes=False):
        features = self.forward_features(x)
        quality = self.quality_head(features)
        if not return_attributes:
            return quality
        return quality, {name: head(features) for name, head in self.attribute_heads.items()}
