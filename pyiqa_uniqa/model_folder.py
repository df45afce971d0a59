"""Trained models shared as self-describing folders, locally or on the Hugging Face Hub.

A model folder (written by ``pyiqa-uniqa export-model``) holds

- ``model.safetensors``: the trained tensors (never a pickle);
- ``config.json``: the metric it was trained for, the arch, and every option that rebuilds it;
- ``recipe.yml``: the training recipe of the run (when known);
- ``README.md``: the model card (the Hub's YAML metadata block, the evaluation table, the data).

``pretrained_model_path`` of every family's arch takes such a folder, or ``'hf-hub:ORG/REPO'``
(``'hf-hub:ORG/REPO@REVISION'``), the convention of open_clip and timm. A Hub id is looked up in the
Hugging Face cache first (``$HF_HUB_CACHE``, laid out by ``huggingface_hub``); only when it is absent is
the Hub asked, after the one network probe (``network.offline_reason``: ``HF_HUB_OFFLINE`` honoured,
known within 2 s).

A folder is data, never code: ``config.json`` may hold only the keys below, its options only
arguments of the arch it names (none that points at another file), and the weights are read only from
``model.safetensors``. A folder made for another family is refused with what it is.
"""
import inspect
import json
import math
import re
from dataclasses import dataclass
from functools import wraps
from pathlib import Path

from pyiqa_uniqa.network import offline_reason
from pyiqa_uniqa.weights import (
    RANDOM,
    CorruptWeightsError,
    UnsafeWeightsError,
    WeightsError,
    WeightsNotFoundError,
    hf_cache_path,
    looks_like_path,
)

HUB_PREFIX = 'hf-hub:'
CONFIG_FILE = 'config.json'
WEIGHTS_FILE = 'model.safetensors'
RECIPE_FILE = 'recipe.yml'
CARD_FILE = 'README.md'
FORMAT = 'pyiqa-uniqa-model'
FORMAT_VERSION = 1
CONFIG_TYPES = {'format': str, 'format_version': int, 'metric': str, 'arch': str, 'options': dict,
                'score_range': str, 'lower_better': bool, 'trained_on': str, 'license': str, 'package_version': str}
# arguments that name other files or how this machine runs the model: never taken from a folder
NOT_FROM_FOLDER = ('pretrained_model_path', 'weights_file', 'base_model_path', 'official_checkpoint',
                   'official_epoch', 'precision')
ARCH_NAMES = {'UniQA': 'a UniQA adapter', 'ATTIQA': 'an ATTIQA model', 'CLIPAGIQA': 'a CLIP-AGIQA model',
              'DepictQA': 'a DepictQA model'}
REPO_ID = re.compile(r'^[\w.-]+/[\w.-]+$')  # a Hub repository id, ORG/REPO


class ModelFolderError(WeightsError, ValueError):
    """A model folder (or Hub repository) that is not one, or not one for this metric."""


@dataclass(frozen=True)
class ModelConfig:
    """What ``config.json`` says: the metric, the arch and the options that rebuild the model."""
    metric: str
    arch: str
    options: dict
    score_range: str = '0, 1'
    lower_better: bool = False
    trained_on: str = ''
    license: str = 'other'
    package_version: str = ''

    def to_json(self):
        data = {'format': FORMAT, 'format_version': FORMAT_VERSION, 'metric': self.metric, 'arch': self.arch,
                'options': self.options, 'score_range': self.score_range, 'lower_better': self.lower_better,
                'trained_on': self.trained_on, 'license': self.license, 'package_version': self.package_version}
        return json.dumps(data, indent=2, sort_keys=False) + '\n'


def is_model_reference(value):
    """True when ``value`` names a model folder: ``'hf-hub:ORG/REPO'`` or an existing directory."""
    if value is None:
        return False
    text = str(value)
    return text.startswith(HUB_PREFIX) or Path(text).expanduser().is_dir()


# --- finding the folder ---------------------------------------------------------------------------

def model_folder(value):
    """The local folder ``value`` names: itself, or the Hub repository's snapshot (cache first)."""
    text = str(value)
    if text.startswith(HUB_PREFIX):
        return hub_snapshot(text)
    return Path(text).expanduser()


def hub_snapshot(reference):
    """The snapshot folder of ``'hf-hub:ORG/REPO[@REVISION]'``: from the cache, else downloaded."""
    repo_id, _, revision = reference[len(HUB_PREFIX):].partition('@')
    if not REPO_ID.match(repo_id):
        raise ModelFolderError(f'{reference!r} is not a Hub model id: write hf-hub:ORG/REPO (or hf-hub:ORG/REPO@REVISION).')
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    try:
        return Path(snapshot_download(repo_id, revision=revision or None, local_files_only=True))
    except LocalEntryNotFoundError:
        pass  # not cached: ask the Hub, if it can be reached
    reason = offline_reason()
    if reason:
        raise WeightsNotFoundError(
            f'{reference} is not in the Hugging Face cache ({hf_cache_path(repo_id)}) '
            f'and cannot be downloaded now ({reason}). Download it where the Hub can be reached '
            f'(`hf download {repo_id}`) and copy the cache folder here, or pass the model folder itself '
            'as pretrained_model_path=FOLDER.')
    try:
        return Path(snapshot_download(repo_id, revision=revision or None,
                                      allow_patterns=[CONFIG_FILE, WEIGHTS_FILE, RECIPE_FILE, CARD_FILE]))
    # no such repository, no access, a revision it does not have, a connection lost on the way
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as err:
        raise WeightsNotFoundError(
            f'{reference}: the Hub ({constants.ENDPOINT}) did not give this model ({err.__class__.__name__}: '
            f'{str(err).splitlines()[0]}). Check the id and your access, or pass the model folder itself as '
            'pretrained_model_path=FOLDER.') from err


# --- reading it -----------------------------------------------------------------------------------

def read_model_config(folder, arch=None, arch_init=None):
    """The ``ModelConfig`` of ``folder``, checked: only known keys, the ``arch`` expected, options that
    are arguments of ``arch_init`` (the arch's ``__init__``) and never another file."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ModelFolderError(f'{folder} is not a model folder: it has no {CONFIG_FILE} '
                               '(`pyiqa-uniqa export-model` writes one).')
    try:
        data = json.loads(path.read_text(encoding='utf-8'), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as err:
        raise CorruptWeightsError(f'{path} is not valid JSON ({err}).') from None
    if not isinstance(data, dict) or data.get('format') != FORMAT:
        raise ModelFolderError(f'{path} is not a pyiqa-uniqa model config (no "format": "{FORMAT}").')
    unknown = sorted(set(data) - set(CONFIG_TYPES))
    if unknown:
        raise UnsafeWeightsError(f'{path} has keys a model config does not have ({", ".join(unknown)}); '
                                 'a model folder is data and can ask for nothing else. It was not loaded.')
    if data.get('format_version') != FORMAT_VERSION:
        raise ModelFolderError(f'{path} is format version {data.get("format_version")!r}; this pyiqa-uniqa reads '
                               f'version {FORMAT_VERSION}. Update pyiqa-uniqa.')
    missing = [key for key in ('metric', 'arch', 'options') if key not in data]
    if missing:
        raise ModelFolderError(f'{path} lacks {", ".join(missing)}.')
    wrong = [key for key, value in data.items() if key != 'options' and not isinstance(value, CONFIG_TYPES[key])]
    if wrong:
        raise ModelFolderError(f'{path}: {", ".join(wrong)} must be '
                               + ', '.join(CONFIG_TYPES[key].__name__ for key in wrong) + '.')
    config = ModelConfig(**{k: v for k, v in data.items() if k not in ('format', 'format_version')})
    if arch is not None and config.arch != arch:
        what = ARCH_NAMES.get(config.arch, f'a {config.arch} model')
        raise ModelFolderError(
            f'{folder} holds {what} (metric {config.metric!r}), not {ARCH_NAMES.get(arch, arch)}: '
            f'load it as pyiqa.create_metric({config.metric!r}, pretrained_model_path=...).')
    check_options(config.options, path, arch_init)
    return config


def _no_constant(name):
    raise ValueError(f'{name} is not a number')


def check_options(options, path, arch_init):
    """Refuse options a folder may not carry: not arguments of ``arch_init``, naming files, or not plain data."""
    if not isinstance(options, dict):
        raise ModelFolderError(f'{path}: "options" must be a mapping of argument names to values.')
    accepted = set(inspect.signature(arch_init).parameters) - {'self'} if arch_init else None
    for name, value in options.items():
        why = ('it names another file or this machine' if name in NOT_FROM_FOLDER
               else 'the arch has no such argument' if accepted is not None and name not in accepted else '')
        if why:
            raise UnsafeWeightsError(f'{path}: option {name!r} cannot come from a model folder ({why}). '
                                     'It was not loaded.')
        if not _plain(value) or (isinstance(value, str) and value != RANDOM and looks_like_path(value)):
            raise UnsafeWeightsError(f'{path}: option {name}={value!r} is not a plain value (numbers, text, '
                                     'lists, mappings; no paths). It was not loaded.')


def _plain(value):
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):  # nested settings (DepictQA's config_overrides)
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int, bool))


def folder_weights(folder):
    """``folder``'s ``model.safetensors``, once it is a safetensors file (a pickle there is refused)."""
    path = Path(folder) / WEIGHTS_FILE
    if not path.is_file():
        others = sorted(p.name for p in Path(folder).iterdir() if p.suffix in ('.pth', '.pt', '.bin', '.ckpt'))
        hint = f' ({", ".join(others)} is not read: a shared folder is loaded from safetensors only)' if others else ''
        raise ModelFolderError(f'{folder} has no {WEIGHTS_FILE}{hint}.')
    with open(path, 'rb') as f:
        head = f.read(9)
    # safetensors: an 8-byte little-endian header length, then the JSON header
    if len(head) < 9 or head[8:9] != b'{':
        refused = ' It looks like a pickle; it was not loaded.' if head[:1] == b'\x80' or head[:2] == b'PK' else ''
        raise UnsafeWeightsError(f'{path} is not a safetensors file.{refused}')
    return path


# --- the arch side ---------------------------------------------------------------------------------

def loads_model_folders(arch):
    """Let an arch's ``__init__`` take a model folder or Hub id as ``pretrained_model_path``.

    The folder's options replace the arch's arguments (the metric's defaults included: the folder
    describes the trained model), except ``backbone_weights`` when the caller gives one (it says where
    the frozen backbone is on this machine); then ``pretrained_model_path`` is the folder's
    ``model.safetensors``, which the arch loads with ``weights.load_trained`` like any checkpoint.
    """
    def decorate(init):
        signature = inspect.signature(init)

        @wraps(init)
        def init_from_folder(self, *args, **kwargs):
            arguments = signature.bind(self, *args, **kwargs).arguments
            del arguments['self']
            if is_model_reference(arguments.get('pretrained_model_path')):
                folder = model_folder(arguments['pretrained_model_path'])
                config = read_model_config(folder, arch, init)
                for name, option in config.options.items():
                    if not (name == 'backbone_weights' and arguments.get(name) is not None):
                        arguments[name] = option
                arguments['pretrained_model_path'] = folder_weights(folder)
                if 'weights_file' in signature.parameters:
                    arguments['weights_file'] = None
            return init(self, **arguments)

        return init_from_folder
    return decorate


# --- writing it -----------------------------------------------------------------------------------

def write_model_folder(out, config, state_dict, card, recipe=None):
    """Write the folder ``out`` (absent or empty) whole or not at all: every file goes into a temporary
    folder beside it, which is renamed to ``out`` once complete. Returns the paths written."""
    from safetensors.torch import save

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ModelFolderError(f'{out} already exists and is not an empty folder; choose a new --out.')
    staging = out.with_name(f'.{out.name}.partial')
    if staging.exists():
        import shutil
        shutil.rmtree(staging)  # left by an export that was killed
    staging.mkdir(parents=True)
    tensors = {key: value.detach().cpu().contiguous() for key, value in state_dict.items()}
    (staging / WEIGHTS_FILE).write_bytes(save(tensors, metadata={'format': 'pt', 'metric': config.metric}))
    (staging / CONFIG_FILE).write_text(config.to_json(), encoding='utf-8')
    (staging / CARD_FILE).write_text(card, encoding='utf-8')
    if recipe is not None:
        (staging / RECIPE_FILE).write_text(recipe, encoding='utf-8')
    if out.exists():
        out.rmdir()
    staging.rename(out)
    return sorted(out.iterdir())
