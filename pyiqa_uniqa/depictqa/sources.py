"""Where a DepictQA model's parts come from, checked before anything heavy is built.

A named model needs three things: the base LM (Vicuna-7B-v1.5, keyword ``language_model``), the
CLIP vision tower (ViT-L/14, ``backbone_weights``) and the trained delta (the released
``ckpt.pt``, ``pretrained_model_path``). The base models are large, so they are never downloaded
behind the user's back: they must be in the Hugging Face cache or a local folder. The delta
(42 MB, 143 MB with the abstractor) is found like pyiqa's own weights: ``$DEPICTQA_WEIGHTS``,
pyiqa's cache, then a download. When anything is missing, one error lists every missing part, what
to download, and the keyword that takes a local copy; offline this takes no network wait.
"""
from pathlib import Path

from pyiqa_uniqa.weights import (
    RANDOM,
    WeightsNotFoundError,
    WeightSource,
    find_weights,
    hf_cache_path,
    hf_model_available,
    looks_like_path,
    pyiqa_cache_dir,
    resolve_weights,
)

WEIGHTS_ENV = 'DEPICTQA_WEIGHTS'

VISION_TOWER = WeightSource(
    'open_clip_model.safetensors', keyword='backbone_weights', default_tag='openai/clip-vit-large-patch14',
    what='The DepictQA vision tower (CLIP ViT-L/14)',
    get='https://huggingface.co/openai/clip-vit-large-patch14 (`huggingface-cli download '
        'openai/clip-vit-large-patch14`), or the file open_clip_model.safetensors of '
        'https://huggingface.co/timm/vit_large_patch14_clip_224.openai')
LANGUAGE_MODEL = WeightSource(
    'vicuna-7b-v1.5', keyword='language_model', default_tag='lmsys/vicuna-7b-v1.5',
    what='The DepictQA language model (Vicuna-7B-v1.5)',
    get='https://huggingface.co/lmsys/vicuna-7b-v1.5 (`huggingface-cli download lmsys/vicuna-7b-v1.5`, ~13.5 GB)')
# preset -> its released delta (LoRA + projector, + abstractor)
RELEASES = {
    'wild': WeightSource(
        'DepictQA2-DQ495K_ckpt.pt', keyword='pretrained_model_path', env_var=WEIGHTS_ENV,
        url='https://huggingface.co/zhiyuanyou/DepictQA2-DQ495K/resolve/main/ckpt.pt',
        get='https://huggingface.co/zhiyuanyou/DepictQA2-DQ495K (file ckpt.pt)',
        what='The trained DepictQA-Wild delta'),
    'wild-abstractor': WeightSource(
        'DepictQA2-Abstractor-DQ495K_ckpt.pt', keyword='pretrained_model_path', env_var=WEIGHTS_ENV,
        url='https://huggingface.co/zhiyuanyou/DepictQA2-Abstractor-DQ495K/resolve/main/ckpt.pt',
        get='https://huggingface.co/zhiyuanyou/DepictQA2-Abstractor-DQ495K (file ckpt.pt)',
        what='The trained DepictQA-Wild abstractor delta'),
}


def preset_sources(model_config):
    """keyword -> ``WeightSource`` of what a preset loads by default (the 'wild' presets: tower, LM, delta)."""
    release = RELEASES.get(model_config) if isinstance(model_config, str) else None
    if release is None:
        return {}
    return {'backbone_weights': VISION_TOWER, 'language_model': LANGUAGE_MODEL, 'pretrained_model_path': release}


def vision_weights(value):
    """What ``backbone_weights`` asks for: ``'random'``, a Hugging Face id, or a ``Path`` (file or folder)."""
    if value is not None and looks_like_path(value) and Path(value).expanduser().is_dir():
        return Path(value).expanduser()  # a local Hugging Face model folder
    return resolve_weights(VISION_TOWER, value)


def _missing_hf(value, source):
    if hf_model_available(value):
        return None
    return (f'{source.keyword}={str(value)!r} ({source.what[:1].lower()}{source.what[1:]}; not in '
            f'{hf_cache_path(value)}): download it from {source.get}, or pass a local folder as '
            f'{source.keyword}=<folder>')


def check_sources(config, model_config=None, pretrained_model_path=None):
    """Raise one ``WeightsNotFoundError`` listing every base part that is not on this machine."""
    missing = []
    vision = vision_weights(config.backbone_weights)
    if isinstance(vision, str) and vision != RANDOM:
        missing.append(_missing_hf(vision, VISION_TOWER))
    if isinstance(config.language_model, str):
        missing.append(_missing_hf(config.language_model, LANGUAGE_MODEL))
    if isinstance(config.tokenizer, str) and config.tokenizer != 'tiny' and not hf_model_available(
            config.tokenizer, 'tokenizer_config.json'):
        missing.append(f'the tokenizer {config.tokenizer!r} (pass a local folder as tokenizer=<folder>)')
    missing = [m for m in missing if m]
    if missing:
        raise WeightsNotFoundError(
            'DepictQA cannot be built here: missing ' + '; '.join(missing) + '.'
            + _release_note(model_config, pretrained_model_path) + " For an offline test model use model_config='tiny'.")


def _release_note(model_config, pretrained_model_path):
    """' It also needs <the released delta>: <where>.' when the model will search for one, else ''."""
    release = RELEASES.get(model_config) if isinstance(model_config, str) else None
    if release is None or pretrained_model_path is not None:  # a file of the user's, 'random', or none wanted
        return ''
    return (f' It also needs {release.what[:1].lower()}{release.what[1:]} ({release.get}): '
            f'{release.where_to_put(pyiqa_cache_dir() / release.filename)}.')


def release_weights(model_config, pretrained_model_path):
    """The delta file to load, or None: an explicit path, the preset's official release, or nothing.

    ``'random'`` keeps the trainable parts as initialised; ``None`` means the preset's release
    (the named presets) or nothing (other configs: the trainable parts start fresh).
    """
    if isinstance(pretrained_model_path, str) and pretrained_model_path == RANDOM:
        return None
    release = RELEASES.get(model_config) if isinstance(model_config, str) else None
    if pretrained_model_path is not None:
        source = release or WeightSource(Path(str(pretrained_model_path)).name, keyword='pretrained_model_path',
                                         what='The DepictQA delta')
        return find_weights(source, pretrained_model_path)
    if release is None:
        return None
    try:
        return find_weights(release)
    except WeightsNotFoundError as err:
        raise WeightsNotFoundError(
            f'{err} Note: ckpt.pt is only the trained delta (LoRA + projector); DepictQA also needs '
            f'{LANGUAGE_MODEL.default_tag} and {VISION_TOWER.default_tag} in the Hugging Face cache.') from err
