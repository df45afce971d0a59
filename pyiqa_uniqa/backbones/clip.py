"""Build open_clip CLIP models by name, with weights from an OpenAI-layout file or a pretrained tag.

UniQA is ViT-B/16 with QuickGELU: the default ``ViT-B-16-quickgelu`` gives the official features;
plain ``ViT-B-16`` (GELU) is off by about 0.03. open_clip must stay below 4.0 (4.x drops the
OpenAI builder); we load files ourselves, strictly, so nothing is silently resized.
"""
import contextlib
import difflib
import logging
from pathlib import Path

from pyiqa_uniqa.backbones.openai_layout import CheckpointMismatchError, check_openai_state_dict

DEFAULT_CLIP = 'ViT-B-16-quickgelu'
_CONFIG_DIR = Path(__file__).with_name('model_configs')
_registered = False

__all__ = ['DEFAULT_CLIP', 'CheckpointMismatchError', 'clip_model_config', 'clip_reference_state_dict',
           'create_clip', 'get_tokenizer']


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
        raise ValueError(f'Unknown CLIP model {model_name!r}. Close names: {", ".join(close) or "none"} '
                         '(all names: open_clip.list_models()).')
    return open_clip


def get_tokenizer(model_name=DEFAULT_CLIP):
    return _known_model(model_name).get_tokenizer(model_name)


def clip_model_config(model_name=DEFAULT_CLIP):
    """open_clip's geometry dict for ``model_name`` (``vision_cfg``, ``text_cfg``, ``embed_dim``)."""
    return _known_model(model_name).get_model_config(model_name)


def clip_reference_state_dict(model_name=DEFAULT_CLIP):
    """Keys and shapes of ``model_name``'s state dict, built on the meta device (no memory, no init)."""
    import torch
    with torch.device('meta'):
        return _known_model(model_name).create_model(model_name, pretrained=None, device='meta').state_dict()


def create_clip(model_name=DEFAULT_CLIP, weights=None, device='cpu'):
    """An fp32 open_clip ``CLIP`` in eval mode.

    weights: None (random init), a path to a flat OpenAI-layout state dict (keys and shapes are
    checked; every mismatch is listed), or an open_clip pretrained tag such as ``'openai'``.
    """
    open_clip = _known_model(model_name)
    if weights is None or Path(str(weights)).expanduser().is_file():
        # open_clip warns that the model is random; true only when no file follows
        quiet = _without_random_init_warning() if weights is not None else contextlib.nullcontext()
        with quiet:
            model = open_clip.create_model(model_name, pretrained=None)
        if weights is not None:
            load_openai_weights(model, weights, model_name)
    else:
        try:
            model = open_clip.create_model(model_name, pretrained=str(weights))
        except Exception as err:  # noqa: BLE001 - unknown tag or no network: say which
            raise RuntimeError(
                f'Could not get CLIP weights {weights!r} for {model_name}: {err}. Pass the path of a '
                'local OpenAI-layout checkpoint instead (a file that does not exist is treated as '
                'a pretrained tag).') from err
    return model.float().eval().to(device)


class _DropRandomInitWarning(logging.Filter):
    def filter(self, record):
        return 'No pretrained weights loaded' not in record.getMessage()


@contextlib.contextmanager
def _without_random_init_warning():
    """open_clip warns that a model built without a tag is random; ours gets a file right after."""
    drop = _DropRandomInitWarning()
    logging.getLogger().addFilter(drop)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(drop)


def load_openai_weights(model, path, model_name=''):
    """Strictly load a flat OpenAI-layout file into an open_clip model (fp16 parts become fp32)."""
    from pyiqa_uniqa.weights import load_state_dict, unwrap_params
    state_dict = unwrap_params(load_state_dict(path), key='state_dict')
    reference = model.state_dict()
    if 'logit_scale' in state_dict and state_dict['logit_scale'].ndim != reference['logit_scale'].ndim:
        state_dict['logit_scale'] = state_dict['logit_scale'].reshape(reference['logit_scale'].shape)
    check_openai_state_dict(state_dict, reference, source=str(path), model_name=model_name)
    model.load_state_dict({k: v.float() for k, v in state_dict.items()}, strict=True)
    return model
