"""``pyiqa-uniqa export-backbone``: a pre-training checkpoint -> an OpenAI-layout CLIP file.

The output has exactly the keys and shapes of the official ``UniQA_weight.pt`` (302 keys for
ViT-B/16; checked against a freshly built model of the same geometry), so
``pyiqa.create_metric('uniqa', backbone_weights='my_uniqa.pt')`` loads it unchanged. By default
tensors get the official dtypes (fp16 linear/conv/attention weights, fp32 norms, embeddings and
``logit_scale``); ``--dtype float32`` keeps the trained precision exactly.

LoRA checkpoints are merged: for every adapted linear layer, W = W_base + (alpha / r) * B @ A,
using the scale stored in the checkpoint.
"""
import re
from pathlib import Path

import torch

from pyiqa_uniqa.backbones import clip_reference_state_dict, openai_dtype
from pyiqa_uniqa.backbones.clip import DEFAULT_CLIP
from pyiqa_uniqa.errors import InvalidOptionError
from pyiqa_uniqa.files import atomic_write
from pyiqa_uniqa.options import load_yaml
from pyiqa_uniqa.weights import (
    CheckpointMismatchError,
    CorruptWeightsError,
    check_state_dict,
    read_state_dict,
)

CLIP_PREFIX = 'clip.'
_LORA_KEY = re.compile(r'^(?P<layer>.+)\.lora_A\.(?P<adapter>[^.]+)\.weight$')


def _strip_prefix(state_dict, source):
    clip_keys = {k[len(CLIP_PREFIX):]: v for k, v in state_dict.items() if k.startswith(CLIP_PREFIX)}
    if not clip_keys:
        raise CheckpointMismatchError(
            f'{source} holds no "clip." tensors, so it is not a pre-training checkpoint (pyiqa-uniqa train with '
            f'network type UniQAPretrainCLIP saves experiments/<name>/models/net_*.pth). First keys: '
            f'{", ".join(list(state_dict)[:5])}.', unexpected=list(state_dict))
    return clip_keys, state_dict.get('lora_scaling')


def merge_lora(state_dict, scaling):
    """Fold peft LoRA adapters into their base weights and drop peft's ``base_layer`` naming."""
    merged = dict(state_dict)
    for key in [k for k in state_dict if _LORA_KEY.match(k)]:
        match = _LORA_KEY.match(key)
        layer, adapter = match['layer'], match['adapter']
        lora_a = merged.pop(key).float()
        lora_b = merged.pop(f'{layer}.lora_B.{adapter}.weight').float()
        base_key = f'{layer}.base_layer.weight'
        if base_key not in merged:
            raise CorruptWeightsError(f'LoRA adapter {layer} has no base weight in the checkpoint.')
        if scaling is None:
            raise CorruptWeightsError('The checkpoint has LoRA adapters but no lora_scaling tensor to merge them with.')
        merged[base_key] = merged[base_key].float() + float(scaling) * lora_b @ lora_a
    # peft keeps the wrapped layer's tensors under 'base_layer': 'mlp.c_fc.base_layer.weight' -> 'mlp.c_fc.weight'
    return {key.replace('.base_layer.', '.'): value for key, value in merged.items()}


def experiment_clip_model(checkpoint_path):
    """The ``network.clip_model`` of the options YAML pyiqa copied next to the checkpoint, if any."""
    experiment = Path(checkpoint_path).resolve().parent.parent
    for options_file in sorted(experiment.glob('*.yml')):
        network = load_yaml(options_file).get('network') or {}
        if isinstance(network, dict) and network.get('clip_model'):
            return network['clip_model']
    return None


def export_backbone(checkpoint_path, out_path, clip_model=None, dtype='official'):
    """Write the checkpoint's CLIP as a flat OpenAI-layout state dict; returns (path, model name)."""
    if dtype not in ('official', 'float32'):
        raise InvalidOptionError(f'dtype must be official or float32, not {dtype!r}.')
    clip_state, scaling = _strip_prefix(read_state_dict(checkpoint_path), checkpoint_path)
    clip_model = clip_model or experiment_clip_model(checkpoint_path) or DEFAULT_CLIP
    clip_state = merge_lora(clip_state, scaling)
    reference = clip_reference_state_dict(clip_model)
    check_state_dict(clip_state, reference, what=clip_model, source=str(checkpoint_path),
                     hint='Is --clip-model the geometry it was trained with?')
    exported = {key: clip_state[key].detach().to(openai_dtype(key) if dtype == 'official' else torch.float32)
                .contiguous().clone() for key in reference}
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out_path, 'wb') as f:  # never leave a half-written file under the final name
        torch.save(exported, f)
    return out_path, clip_model


def add_arguments(parser):
    parser.add_argument('checkpoint', help='pre-training checkpoint, e.g. experiments/<name>/models/net_latest.pth')
    parser.add_argument('--out', required=True, help='output .pt (flat OpenAI-layout CLIP state dict)')
    parser.add_argument('--clip-model', help='open_clip geometry (default: network.clip_model from the '
                        "experiment's options YAML, else ViT-B-16-quickgelu)")
    parser.add_argument('--dtype', default='official', choices=['official', 'float32'],
                        help='official: fp16 weights + fp32 norms/embeddings like UniQA_weight.pt')


def run(args):
    out, clip_model = export_backbone(args.checkpoint, args.out, args.clip_model, args.dtype)
    keys = len(torch.load(out, map_location='cpu', weights_only=True))
    print(f'{out}: {keys} tensors, OpenAI layout of {clip_model}. '
          f"Use it with pyiqa.create_metric('uniqa', backbone_weights='{out}').")
