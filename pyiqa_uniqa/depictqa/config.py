"""``DepictQAConfig``: everything that defines a DepictQA-style model, as plain data.

A config names (or fully describes) the three parts and the settings between them:

- ``vision``: the vision tower's geometry (``CLIPVisionConfig`` fields; ViT-L/14 by default) and
  ``backbone_weights``, its weights in the package's one vocabulary: ``None`` (the default
  source: ``openai/clip-vit-large-patch14`` from the Hugging Face cache), ``'random'``, a Hugging
  Face id or local folder of a CLIP vision model, or an OpenAI-layout state dict file (open_clip's
  ``open_clip_model.safetensors`` of ViT-L/14 'openai', or OpenAI's ViT-L-14 re-saved as a state
  dict; OpenAI's own ``ViT-L-14.pt`` is a TorchScript archive, which is never loaded).
- ``language_model``: a dict of config fields with ``model_type`` (random init) or an HF id/folder.
- ``tokenizer``: ``'tiny'`` (built offline, see ``tiny_tokenizer``) or an HF id/folder; ``None``
  means "the language model's folder".

Presets: ``'wild'`` (DepictQA-Wild: CLIP ViT-L/14 + Vicuna-7B-v1.5, 224/672 px),
``'wild-abstractor'`` (adds the 64-query abstractor, 1024/2048 px) and ``'tiny'`` (random, offline,
a fraction of a second to build). A folder written by ``DepictQA.save_pretrained`` also works.
"""
import dataclasses
import json
from pathlib import Path

from pyiqa_uniqa.errors import InvalidOptionError
from pyiqa_uniqa.files import write_file

CONFIG_FILENAME = 'depictqa_config.json'
# OpenAI CLIP ViT-L/14 (224 px): the official vision tower
VIT_L_14 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                image_size=224, patch_size=14, hidden_act='quick_gelu', layer_norm_eps=1e-5)


class DepictQAConfigError(InvalidOptionError):
    """A model_config that names no preset, no saved folder, or holds unknown fields."""


@dataclasses.dataclass
class LoraSettings:
    r: int = 16
    alpha: int = 16
    dropout: float = 0.1
    target_modules: tuple = ('q_proj', 'k_proj', 'v_proj', 'o_proj')


@dataclasses.dataclass
class AbstractorSettings:
    """The later official variant: learned queries cross-attend to the patch tokens."""
    num_queries: int = 64
    num_layers: int = 4
    num_heads: int = 8
    ffn_dim: int = 2048
    dropout: float = 0.1


@dataclasses.dataclass
class ImageSettings:
    """Official "retain resolution": downscale only, then pad to a multiple of the patch size."""
    resize: int = 224     # scale down when the short side reaches this ...
    max_size: int = 672   # ... or the long side reaches this
    min_size: int = 70    # pad tiny images up to this side
    train_crop: tuple = (0.7, 1.0)  # random centre-crop ratio per axis during training


BATCHING_MODES = ('masked', 'official')


@dataclasses.dataclass
class GenerationSettings:
    """Decoding, as the official inference config; every generation is bounded by ``max_new_tokens``.

    ``batching``: how answers decoded together are padded. 'masked' (default): left padding hidden
    from attention, so each answer equals its batch-1 answer. 'official': the official eval
    scripts' padding (the query padded with EOS, moved to the left, attended, positions counted over
    it), which changes answers with the batch they are in; the published numbers were made so, at
    batch 16.
    """
    max_new_tokens: int = 400          # official, for every task
    temperature: float = 0.0           # greedy at <= 1e-4, as official ("IQA needs deterministic answers")
    top_p: float = 0.9                 # when sampling
    top_k: int = 50                    # when sampling: transformers' default, in effect in the official runs
    batching: str = 'masked'
    max_time_s: float = None           # optional wall-clock cap per generate call (not in the official code)

    def __post_init__(self):
        if self.batching not in BATCHING_MODES:
            raise DepictQAConfigError(f'batching must be one of {BATCHING_MODES}, got {self.batching!r}')


@dataclasses.dataclass
class DepictQAConfig:
    vision: dict = dataclasses.field(default_factory=lambda: dict(VIT_L_14))
    backbone_weights: object = None
    language_model: object = 'lmsys/vicuna-7b-v1.5'
    tokenizer: object = None
    lora: LoraSettings = dataclasses.field(default_factory=LoraSettings)
    abstractor: object = None  # AbstractorSettings or None
    image: ImageSettings = dataclasses.field(default_factory=ImageSettings)
    generation: GenerationSettings = dataclasses.field(default_factory=GenerationSettings)
    unique_tag: bool = True
    # training, as the official: the text after the images (questions and answers) is cut to 512
    # tokens, and every "</s>" in it (the separator before each USER: and each answer's end) is
    # hidden from attention (its mask is ids != pad, pad = EOS), while inference attends them;
    # hide_eos_in_training=False trains with them visible, as inference sees them
    max_text_tokens: int = 512
    hide_eos_in_training: bool = True
    init_seed: int = 0  # random-init parts (tiny models) are reproducible from the config alone

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise DepictQAConfigError(f'unknown DepictQA config fields: {sorted(unknown)}; the fields are '
                                      f'{", ".join(f.name for f in dataclasses.fields(cls))}.')
        nested = {'lora': LoraSettings, 'image': ImageSettings, 'generation': GenerationSettings,
                  'abstractor': AbstractorSettings}
        for name, settings_cls in nested.items():
            value = data.get(name)
            if isinstance(value, dict):
                data[name] = settings_cls(**{k: tuple(v) if isinstance(v, list) else v
                                             for k, v in value.items()})
        return cls(**data)

    def save(self, folder):
        path = Path(folder) / CONFIG_FILENAME
        write_file(path, json.dumps(self.to_dict(), indent=2))
        return path

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def tiny_config(**changes):
    """A random VLM small enough for CPU tests: 8-px patches, 64-wide CLIP, 2-layer 64-wide LLaMA.

    The LM is initialised with std 0.3 instead of transformers' 0.02: with a frozen random LM,
    0.02 leaves near-uniform attention and logits too flat for adapters to learn from the image
    (measured: 16 training samples are not even memorised in 500 steps; with 0.3 they are).
    """
    config = DepictQAConfig(
        vision=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    image_size=64, patch_size=8),
        backbone_weights='random',
        language_model=dict(model_type='llama', hidden_size=64, intermediate_size=128,
                            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                            max_position_embeddings=2048, initializer_range=0.3),
        tokenizer='tiny',
        image=ImageSettings(resize=64, max_size=128, min_size=16),
        generation=GenerationSettings(max_new_tokens=24, max_time_s=30.0),
    )
    return config.replace(**changes)


PRESETS = {
    'wild': lambda: DepictQAConfig(),
    'wild-abstractor': lambda: DepictQAConfig(
        abstractor=AbstractorSettings(), image=ImageSettings(resize=1024, max_size=2048)),
    'tiny': tiny_config,
}


def with_overrides(config, overrides):
    """``config`` with fields replaced; nested settings (lora, image, ...) are updated key by key."""
    data = config.to_dict()
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return DepictQAConfig.from_dict(data)


def resolve_config(model_config):
    """A preset name, a saved model folder, a config dict, or a ``DepictQAConfig``."""
    if isinstance(model_config, DepictQAConfig):
        return model_config
    if isinstance(model_config, dict):
        return DepictQAConfig.from_dict(model_config)
    if model_config in PRESETS:
        return PRESETS[model_config]()
    folder = Path(str(model_config)).expanduser()
    if (folder / CONFIG_FILENAME).is_file():
        return DepictQAConfig.from_dict(json.loads((folder / CONFIG_FILENAME).read_text()))
    raise DepictQAConfigError(
        f'model_config={model_config!r} is neither a preset ({", ".join(PRESETS)}) nor a folder '
        f'holding {CONFIG_FILENAME} (written by DepictQA.save_pretrained).')
