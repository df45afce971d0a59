"""Build open_clip CLIP models by name, with weights from an OpenAI-layout file or a pretrained tag.

UniQA is ViT-B/16 with QuickGELU: the default ``ViT-B-16-quickgelu`` gives the official features;
plain ``ViT-B-16`` (GELU) is off by about 0.03. open_clip must stay below 4.0 (4.x drops the
OpenAI builder); we load files ourselves, strictly, so nothing is silently resized.

Weights follow the package's one vocabulary (``pyiqa_uniqa.weights``): ``'random'`` (seeded, the
global RNG untouched), a path, an open_clip pretrained tag (``'openai'``), or None for the
default of the family's ``WeightSource``. A tag that is not in the Hugging Face cache is
downloaded only when the network answers within 2 s; otherwise the error says which file is
missing, which keyword takes a local copy and where the cache expects it.
"""
import contextlib
import difflib
import logging
import os
from pathlib import Path

import torch

from pyiqa_uniqa.errors import UnknownNameError
from pyiqa_uniqa.weights import (
    RANDOM,
    WeightsNotFoundError,
    WeightSource,
    hf_cache_path,
    read_checked_state_dict,
    require_network,
    resolve_weights,
)

DEFAULT_CLIP = 'ViT-B-16-quickgelu'
_CONFIG_DIR = Path(__file__).with_name('model_configs')
_registered = False
# open_clip's file names in a Hugging Face repo: the safetensors one first, as open_clip prefers it
_HF_WEIGHT_FILES = ('open_clip_model.safetensors', 'open_clip_pytorch_model.bin')

# what None means to create_clip when the caller has no source of its own: OpenAI's CLIP
OPENAI_CLIP = WeightSource(
    _HF_WEIGHT_FILES[0], keyword='backbone_weights', flag='--backbone-weights', default_tag='openai',
    what="OpenAI's CLIP weights",
    get="the model's Hugging Face repo (for ViT-B/16: https://huggingface.co/timm/vit_base_patch16_clip_224.openai)")

__all__ = ['DEFAULT_CLIP', 'OPENAI_CLIP', 'clip_model_config', 'clip_reference_state_dict', 'create_clip',
           'get_tokenizer', 'load_openai_weights', 'read_openai_weights']


def _open_clip():
    """open_clip, with our small model configs (e.g. ``tiny-clip-quickgelu``) registered."""
    global _registered
    import open_clip
    if not _registered:
        open_clip.add_model_config(_CONFIG_DIR)
        _registered = True
    return open_clip


def _known_model(model_name):
    open_clip = _open_clip()
    if model_name not in open_clip.list_models():
        close = difflib.get_close_matches(model_name, open_clip.list_models(), n=5)
        raise UnknownNameError(f'Unknown CLIP model {model_name!r}. Close names: {", ".join(close) or "none"} '
                               '(all names: open_clip.list_models()).')
    return open_clip


def get_tokenizer(model_name=DEFAULT_CLIP):
    return _known_model(model_name).get_tokenizer(model_name)


def clip_model_config(model_name=DEFAULT_CLIP):
    """open_clip's geometry dict for ``model_name`` (``vision_cfg``, ``text_cfg``, ``embed_dim``)."""
    return _known_model(model_name).get_model_config(model_name)


def clip_reference_state_dict(model_name=DEFAULT_CLIP):
    """Keys and shapes of ``model_name``'s state dict, built on the meta device (no memory, no init)."""
    with torch.device('meta'), _without_random_init_warning():
        return _known_model(model_name).create_model(model_name, pretrained=None, device='meta').state_dict()


def create_clip(model_name=DEFAULT_CLIP, weights=RANDOM, device='cpu', source=OPENAI_CLIP, seed=0):
    """An fp32 open_clip ``CLIP`` in eval mode.

    weights: ``'random'`` (seeded with ``seed``), a path to a flat OpenAI-layout state dict (keys and
    shapes are checked; every mismatch is listed), an open_clip pretrained tag such as ``'openai'``,
    or None for ``source``'s default (its tag, or its file searched as ``weights.find_weights`` does).
    source: the ``WeightSource`` whose keyword, flag and file name the error messages use.
    """
    open_clip = _known_model(model_name)
    value = resolve_weights(source, weights)
    if value == RANDOM:
        with torch.random.fork_rng(devices=[]), _without_random_init_warning():  # random was asked for by name
            torch.manual_seed(seed)
            model = open_clip.create_model(model_name, pretrained=None)
    elif isinstance(value, Path):
        with _without_random_init_warning():  # open_clip warns the model is random; the file follows
            model = open_clip.create_model(model_name, pretrained=None)
        load_openai_weights(model, value, model_name)
    else:
        model = open_clip.create_model(model_name, pretrained=_pretrained_file(open_clip, model_name, value, source))
    return model.float().eval().to(device)


def _pretrained_file(open_clip, model_name, tag, source):
    """The cached file of an open_clip tag, or the tag itself when it may be downloaded now."""
    from huggingface_hub import try_to_load_from_cache
    config = open_clip.get_pretrained_cfg(model_name, tag)
    if not config:
        known = ', '.join(open_clip.list_pretrained_tags_by_model(model_name)) or 'none'
        raise WeightsNotFoundError(
            f'The given {source.names()} {tag!r} is neither an existing file nor a pretrained tag open_clip knows '
            f'for {model_name} (its tags: {known}). Pass the path of an OpenAI-layout checkpoint, one of '
            f'those tags, or {RANDOM!r}.')
    # 'org/model/' (open_clip's default file name) or 'org/model/file', as open_clip reads it
    repo, filename = os.path.split(config.get('hf_hub', ''))
    if config.get('hf_hub'):
        for name in ((filename,) if filename else _HF_WEIGHT_FILES):
            cached = try_to_load_from_cache(repo, name)
            if isinstance(cached, str):
                return cached
        require_network(f"open_clip's {tag!r} weights for {model_name} ({filename or _HF_WEIGHT_FILES[0]} of the "
                        f'Hugging Face repo {repo})', source, cache=hf_cache_path(repo))
    else:
        require_network(f"open_clip's {tag!r} weights for {model_name}", source, url=config.get('url'))
    return tag


class _DropRandomInitWarning(logging.Filter):
    def filter(self, record):
        return 'No pretrained weights loaded' not in record.getMessage()


@contextlib.contextmanager
def _without_random_init_warning():
    """open_clip warns that a model built without a tag is random: ours gets a file right after, or
    the caller asked for ``'random'`` by name (never a default in this package)."""
    drop = _DropRandomInitWarning()
    logging.getLogger().addFilter(drop)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(drop)


def read_openai_weights(path, reference, model_name='', *, what=None, source=None,
                        hint='Is it a different CLIP geometry (model_name)?'):
    """The state dict of a flat OpenAI-layout file, every key and shape checked against ``reference``
    (a model's state dict, or ``clip_reference_state_dict`` to check a file without building one)."""

    def scalar_logit_scale(state_dict):  # some exports store logit_scale as a 0-d tensor, some as [1]
        scale = state_dict.get('logit_scale')
        if scale is not None and scale.ndim != reference['logit_scale'].ndim:
            state_dict['logit_scale'] = scale.reshape(reference['logit_scale'].shape)
        return state_dict

    return read_checked_state_dict(path, reference, key='state_dict', rename=scalar_logit_scale,
                               what=what or model_name or 'the CLIP model', hint=hint, source=source)


def load_openai_weights(model, path, model_name=''):
    """Strictly load a flat OpenAI-layout file into an open_clip model (fp16 parts become fp32)."""
    model.load_state_dict(read_openai_weights(path, model.state_dict(), model_name))
    return model
