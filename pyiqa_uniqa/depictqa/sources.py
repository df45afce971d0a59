"""Where a DepictQA model's parts come from, checked before anything heavy is built.

A named model needs three things: the base LM (Vicuna-7B-v1.5), the CLIP vision tower
(ViT-L/14) and the trained delta (the released ``ckpt.pt``). The base models are large, so they
are never downloaded behind the user's back: they must be in the Hugging Face cache or a local
folder. The 42 MB delta is found like pyiqa's own weights (pyiqa's cache, $DEPICTQA_WEIGHTS, then a
download). When anything is missing, one error lists every missing part, what to download and
where to put it.
"""
from pathlib import Path

from pyiqa_uniqa.weights import WeightsNotFoundError, WeightSource, find_weights, pyiqa_cache_dir

WEIGHTS_ENV = 'DEPICTQA_WEIGHTS'


def _available(name_or_path):
    if Path(str(name_or_path)).expanduser().is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache
        found = try_to_load_from_cache(str(name_or_path), 'config.json')
    except Exception:  # noqa: BLE001 - a malformed id is simply "not available"
        return False
    return isinstance(found, str)


def _missing_parts(config):
    missing = []
    if config.vision_openai_weights is not None:
        if not Path(config.vision_openai_weights).expanduser().is_file():
            missing.append(f'vision weights {config.vision_openai_weights} (an OpenAI-layout CLIP state dict)')
    elif isinstance(config.vision, str) and not _available(config.vision):
        missing.append(f'vision encoder {config.vision!r}: `huggingface-cli download {config.vision}` '
                       f'(or pass vision=<local folder>)')
    if isinstance(config.language_model, str) and not _available(config.language_model):
        missing.append(f'language model {config.language_model!r}: `huggingface-cli download '
                       f'{config.language_model}` (~13 GB; or pass language_model=<local folder>)')
    if isinstance(config.tokenizer, str) and config.tokenizer != 'tiny' and not _available(config.tokenizer):
        missing.append(f'tokenizer {config.tokenizer!r}')
    return missing


def check_sources(config):
    missing = _missing_parts(config)
    if missing:
        raise WeightsNotFoundError(
            'DepictQA cannot be built offline: missing ' + '; '.join(missing) + '. The trained delta '
            f'(DepictQA2-DQ495K ckpt.pt) is also needed: put it at {pyiqa_cache_dir()}/DepictQA2-DQ495K_ckpt.pt, '
            f'set ${WEIGHTS_ENV}, or pass pretrained_model_path=... . For an offline test model use '
            "model_config='tiny'.")


def release_weights(model_config, pretrained_model_path):
    """The delta file to load: an explicit path, the preset's official release, or None."""
    from pyiqa_uniqa.depictqa.official_checkpoint import OFFICIAL_RELEASES
    if pretrained_model_path is False:
        return None
    if pretrained_model_path:
        source = WeightSource(Path(str(pretrained_model_path)).name, keyword='pretrained_model_path')
        return find_weights(source, pretrained_model_path)
    release = OFFICIAL_RELEASES.get(model_config) if isinstance(model_config, str) else None
    if release is None:
        return None
    filename, url, repo = release
    try:
        return find_weights(WeightSource(filename, keyword='pretrained_model_path', env_var=WEIGHTS_ENV, url=url,
                                         get=f'https://huggingface.co/{repo} (file ckpt.pt)',
                                         what='The trained DepictQA delta'))
    except WeightsNotFoundError as err:
        raise WeightsNotFoundError(
            f'{err} Note: ckpt.pt is only the trained delta (LoRA + projector); DepictQA also needs '
            'lmsys/vicuna-7b-v1.5 and openai/clip-vit-large-patch14 in the Hugging Face cache.') from err
