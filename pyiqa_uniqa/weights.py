"""Weight files: where each comes from, how it is found, and one checked way to load it.

**Sources are data.** A ``WeightSource`` (like timm's pretrained cfgs) describes one file: its name,
the keyword and CLI flag that take a local copy, its environment variable, its URL, where to get
it and how to train it. It is declared next to the model that uses it, and every message about
the file is written from it.

**One vocabulary for every weight argument** (every family, every flag): a value is

- ``None``: the default source: the source's ``default_tag`` if it has one (e.g. open_clip's
  ``'openai'``), else the official file, searched in order: ``$<env_var>``, pyiqa's cache dir
  (``$TORCH_HOME/hub/pyiqa/<filename>``, where pyiqa keeps its own weights), then a download
  where a URL exists;
- ``'random'`` (``RANDOM``): seeded random weights, for tests and offline demos;
- a path to a file; or a tag (a name the library behind the source knows, e.g. an open_clip
  pretrained tag or a Hugging Face model id).

**Loading never executes a pickle**: ``torch.load(weights_only=True)`` (tensors and plain
containers only) or safetensors. ``load_trained`` then unwraps, optionally renames, checks every
key and shape against the module, and loads; one ``CheckpointMismatchError`` lists everything that
does not fit.

**Offline in seconds**: before anything downloads, ``require_network`` asks ``network.offline_reason``
(the one probe: ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` mean no, else the host answers within 2 s), and otherwise raises a
``WeightsNotFoundError`` naming the missing file, the keyword or flag that takes a local copy,
and where the cache expects it.
"""
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

from pyiqa_uniqa.errors import MissingFileError, UserError
from pyiqa_uniqa.network import offline_reason

RANDOM = 'random'
# a value with one of these endings, or one that starts like a path, is a path even if it is missing
WEIGHT_FILE_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.ckpt', '.tar', '.pkl')


class WeightsError(UserError, RuntimeError):
    """A weight file is missing or unusable."""


class WeightsNotFoundError(WeightsError, MissingFileError):
    """The file is not on this machine (and could not be downloaded)."""


class UnsafeWeightsError(WeightsError):
    """The file is a pickle that would run code or build arbitrary objects; it was not loaded."""


class CorruptWeightsError(WeightsError):
    """Truncated, empty, or not a checkpoint at all."""


class CheckpointMismatchError(WeightsError, ValueError):
    """A state dict does not fit its model; ``missing``, ``unexpected`` and ``wrong_shape`` list every key."""

    def __init__(self, message, missing=(), unexpected=(), wrong_shape=()):
        super().__init__(message)
        self.missing, self.unexpected, self.wrong_shape = list(missing), list(unexpected), list(wrong_shape)


@dataclass(frozen=True)
class WeightSource:
    """Everything a user needs to know about one weight file.

    filename: the file's name, also its name in pyiqa's cache dir.
    keyword: the constructor / ``create_metric`` keyword that takes a value (path, tag, 'random').
    flag: the CLI flag that takes it, if a command exposes it.
    env_var: an environment variable that may hold its path.
    url: where it downloads from automatically, if anywhere.
    get: where a user downloads it by hand, completing "Download it from ..."
    train: how to train one, completing "Train one with ..." (commands in backticks)
    default_tag: what ``None`` means when it is not a file search (e.g. open_clip's 'openai').
    what: what the file is, a capitalised noun phrase ("The UniQA CLIP backbone"; default "The weight file").
    """
    filename: str
    keyword: str
    flag: str = ''
    env_var: str = ''
    url: str = ''
    get: str = ''
    train: str = ''
    default_tag: str = ''
    what: str = ''

    @property
    def title(self):
        """"The UniQA CLIP backbone 'UniQA_weight.pt'", or "The weight file 'x.pt'"."""
        return f"{self.what or 'The weight file'} '{self.filename}'"

    def names(self):
        """'backbone_weights / --backbone-weights': how a user passes a value."""
        return f'{self.keyword} / {self.flag}' if self.flag else self.keyword

    def takes(self):
        """'backbone_weights=<path> (--backbone-weights <path> on the command line)'."""
        flag = f' ({self.flag} <path> on the command line)' if self.flag else ''
        return f'{self.keyword}=<path>{flag}'

    def how_to_get(self):
        """One or two sentences: where to download it, how to train one; '' when neither is known."""
        if self.get and self.train:
            return f'Download it from {self.get}, or train your own with {self.train}.'
        if self.get:
            return f'Download it from {self.get}.'
        if self.train:
            return f'Train one with {self.train}.'
        return ''

    def where_to_put(self, cached=None):
        """'pass its path as <keyword>=<path> (...), set $ENV to it, or put it at <cache>'."""
        places = [f'pass its path as {self.takes()}']
        if self.env_var:
            places.append(f'set ${self.env_var} to it')
        if cached is not None:
            places.append(f'put it at {cached}')
        return _one_of(places)


def pyiqa_cache_dir():
    """pyiqa's weight cache, computed like pyiqa does, without importing pyiqa."""
    import torch.hub
    return Path(torch.hub.get_dir()) / 'pyiqa'


def _sentence(*parts):
    return ' '.join(p for p in parts if p)


def _one_of(choices):
    """'a', 'a or b', 'a, b, or c'."""
    return ' or '.join(choices) if len(choices) < 3 else ', '.join(choices[:-1]) + ', or ' + choices[-1]


# --- the vocabulary ------------------------------------------------------------------------------

def looks_like_path(value):
    """True for a value meant as a file or folder (existing, or written like a path)."""
    if isinstance(value, os.PathLike):
        return True
    text = str(value)
    return (Path(text).expanduser().exists() or text.startswith(('/', './', '../', '~', '\\'))
            or text.lower().endswith(WEIGHT_FILE_SUFFIXES))


def weight_kind(value, source=None):
    """What a weight value means: 'default', 'random', 'path' or 'tag' (see the module doc)."""
    if value is None:
        return 'tag' if source is not None and source.default_tag else 'default'
    if isinstance(value, str) and value == RANDOM:
        return 'random'
    return 'path' if looks_like_path(value) else 'tag'


def resolve_weights(source, value=None):
    """``RANDOM``, a tag (str) or the ``Path`` of a file found: what ``value`` asks of ``source``."""
    kind = weight_kind(value, source)
    if kind == 'random':
        return RANDOM
    if kind == 'tag':
        return source.default_tag if value is None else str(value)
    return find_weights(source, value)


# --- finding files --------------------------------------------------------------------------------

def find_weights(source, value=None):
    """The ``Path`` of ``source``'s file: ``value`` if it is a path, else the default search.

    A tag or ``'random'`` is refused here (a file is what this source needs), and the message offers
    only what is taken; models that take tags or ``'random'`` call ``resolve_weights`` instead.
    """
    kind = weight_kind(value, None)
    if kind == 'path':
        candidate = Path(value).expanduser()
        if candidate.is_file():
            return candidate
        if candidate.is_dir():
            raise WeightsNotFoundError(
                f'The given {source.names()} {str(value)!r} is a folder; it takes the path of the file '
                f'{source.filename}.')
        raise WeightsNotFoundError(_sentence(
            f'The given {source.names()} {str(value)!r} does not exist (it should be the file {source.filename}).',
            source.how_to_get()))
    if kind in ('random', 'tag'):
        wrong = 'asks for random weights, which this model cannot use here' if kind == 'random' else \
            'is neither an existing file nor a name this model knows'
        raise WeightsNotFoundError(f'The given {source.names()} {value!r} {wrong}: it takes the path of the file '
                                   f'{source.filename}, or None to search for it.')
    return _search(source)


def _search(source):
    tried = []
    if source.env_var:
        value = os.environ.get(source.env_var)
        if value:
            candidate = Path(value).expanduser()
            if candidate.is_file():
                return candidate
            raise WeightsNotFoundError(
                f'${source.env_var} is {value!r}, which is not a file. Point it at {source.filename} '
                f'or unset it; {source.takes()} takes the path too.')
        tried.append(f'${source.env_var} (not set)')
    cached = pyiqa_cache_dir() / source.filename
    if cached.is_file():
        return cached
    tried.append(f'{cached} (absent)')
    if source.url:
        require_network(source.title, source, cache=cached, url=source.url)
        try:
            return _download(source.url, cached)
        except OSError as err:  # a network that answers a probe may still fail the download
            tried.append(f'the download from {source.url} ({err.__class__.__name__}: {err})')
    raise WeightsNotFoundError(_sentence(
        f'{source.title} is not on this machine.', source.how_to_get(),
        f'Then {source.where_to_put(cached)}.', f'Searched: {"; ".join(tried)}.'))


def _download(url, destination):
    import torch.hub
    destination.parent.mkdir(parents=True, exist_ok=True)
    # torch.hub downloads to a temp file beside the destination and moves it into place when
    # complete, so a killed download never leaves a file that looks complete
    torch.hub.download_url_to_file(url, str(destination), progress=True)
    return destination


# --- the network -----------------------------------------------------------------------------------

def require_network(what, source=None, *, cache=None, url=None):
    """Raise ``WeightsNotFoundError`` unless ``what`` (about to be downloaded from ``url``) can be.

    what: the missing thing, e.g. "open_clip weights 'openai' for ViT-B-16";
    source: its ``WeightSource`` (for the keyword, flag and env var that take a local copy);
    cache: where the cache expects it (a file or folder).
    """
    reason = offline_reason(url)
    if not reason:
        return
    where = source.where_to_put(cache) if source is not None else (f'put it at {cache}' if cache else '')
    how = (source.how_to_get() if source is not None else '') or 'Get it on a machine with network access.'
    raise WeightsNotFoundError(_sentence(
        f'{what} is not on this machine and cannot be downloaded now ({reason}).', how,
        f'Then {where}.' if where else ''))


def hf_cache_path(model_id):
    """The folder where the Hugging Face cache keeps ``model_id``."""
    from huggingface_hub.constants import HF_HUB_CACHE
    return Path(HF_HUB_CACHE) / ('models--' + str(model_id).replace('/', '--'))


def hf_model_available(model_id, filename='config.json'):
    """True when ``model_id`` is a local folder or its ``filename`` is in the Hugging Face cache."""
    if Path(str(model_id)).expanduser().is_dir():
        return True
    from huggingface_hub import try_to_load_from_cache
    try:
        return isinstance(try_to_load_from_cache(str(model_id), filename), str)
    except ValueError:  # not a valid repo id: certainly not cached
        return False


def require_hf_model(model_id, source, filename='config.json'):
    """Before ``from_pretrained(model_id)``: fail in seconds, clearly, when it would need the network."""
    if not hf_model_available(model_id, filename):
        require_network(f'The Hugging Face model {str(model_id)!r}', source, cache=hf_cache_path(model_id))


# --- loading ---------------------------------------------------------------------------------------

def checked_weight_file(path):
    """``Path(path)`` once it is a file that is not empty; the error a user can act on otherwise."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f'{path}: no such file.' if not path.is_dir() else f'{path} is a folder, not a file.')
    if path.stat().st_size == 0:
        raise CorruptWeightsError(f'{path} is empty.')
    return path


def read_checkpoint(path):
    """Load a checkpoint file safely; returns whatever tensor container it holds."""
    path = checked_weight_file(path)
    if path.suffix == '.safetensors':
        from safetensors.torch import load_file
        try:
            return load_file(str(path))
        except Exception as err:  # noqa: BLE001 - safetensors reports damage in several types
            raise CorruptWeightsError(f'{path} is not a readable safetensors file.') from err
    import torch
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        refused = refused_global(err)
        if refused is None:  # the safe unpickler met bytes that are no checkpoint pickle at all
            raise CorruptWeightsError(f'{path} is not a PyTorch checkpoint.') from err
        raise UnsafeWeightsError(
            f'{path} holds pickled objects that are not tensors ({refused}); it was not loaded, because '
            'unpickling them could run code. Re-save it as a plain state dict '
            '(torch.save(model.state_dict(), path)) or as safetensors.') from err
    except Exception as err:  # noqa: BLE001 - a damaged file fails in many ways inside torch
        raise CorruptWeightsError(f'{path} is truncated or not a PyTorch checkpoint.') from err


_GLOBAL = re.compile(r'GLOBAL ([\w.]+)')


def refused_global(err):
    """The ``module.name`` torch's safe unpickler refused, from its message (None if it refused none)."""
    found = _GLOBAL.search(str(err))
    return found.group(1) if found else None


def unwrap_params(checkpoint, key='params', source=None):
    """The state dict inside pyiqa's ``{'params': sd}``, a trainer's ``{'state_dict': sd}`` or a bare
    state dict, with DataParallel's ``module.`` prefix removed; ``source`` (the file) names it in errors."""
    if isinstance(checkpoint, dict):
        for wrapper in (key, 'params', 'state_dict'):
            if isinstance(checkpoint.get(wrapper), dict):
                checkpoint = checkpoint[wrapper]
                break
    import torch
    if not isinstance(checkpoint, dict) or not any(torch.is_tensor(v) for v in checkpoint.values()):
        where = f'{source}: ' if source is not None else ''
        raise CorruptWeightsError(f'{where}expected a state dict of tensors, found {_describe(checkpoint)}.')
    return {k.removeprefix('module.'): v for k, v in checkpoint.items()}


def read_state_dict(path, key='params'):
    """The state dict of the checkpoint file ``path`` (``read_checkpoint`` then ``unwrap_params``)."""
    return unwrap_params(read_checkpoint(path), key=key, source=path)


def _describe(value):
    if isinstance(value, dict):
        return f'a dict with keys {", ".join(map(str, list(value)[:6]))}'
    return type(value).__name__


def frozen_parameter_names(module):
    return {name for name, p in module.named_parameters(remove_duplicate=False) if not p.requires_grad}


def trainable_state_dict(module):
    """``state_dict()`` without frozen parameters: what a checkpoint of trained parts holds."""
    frozen = frozen_parameter_names(module)
    return {k: v for k, v in module.state_dict().items() if k not in frozen}


def check_state_dict(state_dict, reference, *, what='the model', source='the checkpoint', required=None,
                     hint=''):
    """Raise ``CheckpointMismatchError`` listing every key of ``state_dict`` that does not fit ``reference``.

    reference: the model's state dict (keys and shapes); required: the keys that must be present
    (default: all of ``reference``); source names the file; ``hint`` is added when shapes differ.
    """
    required = set(reference if required is None else required)
    missing = sorted(required - set(state_dict))
    unexpected = sorted(set(state_dict) - set(reference))
    wrong_shape = [f'{key}: file {tuple(state_dict[key].shape)} vs model {tuple(reference[key].shape)}'
                   for key in sorted(set(reference) & set(state_dict))
                   if tuple(state_dict[key].shape) != tuple(reference[key].shape)]
    if not (missing or unexpected or wrong_shape):
        return
    parts = [f'{source} does not fit {what} ({len(state_dict)} keys in the file, {len(required)} expected).']
    for title, items in (('missing keys', missing), ('unexpected keys', unexpected), ('wrong shapes', wrong_shape)):
        if items:
            shown = ', '.join(items[:10]) + (f', ... ({len(items) - 10} more)' if len(items) > 10 else '')
            parts.append(f'{len(items)} {title}: {shown}.')
    if hint and wrong_shape:
        parts.append(hint)
    raise CheckpointMismatchError(' '.join(parts), missing, unexpected, wrong_shape)


def read_checked_state_dict(checkpoint, reference, *, key='params', required=None, rename=None, what='the model',
                            hint='', source=None):
    """The state dict of ``checkpoint`` once every key and shape is checked against ``reference`` (a model's
    state dict, or a meta-device one: nothing is built).

    checkpoint: a file, or a state dict already read; source: how messages name it (default: its path);
    the other arguments as ``load_trained``'s.
    """
    if isinstance(checkpoint, dict):
        state_dict = dict(checkpoint)
    else:
        state_dict = read_state_dict(checkpoint, key=key)
    if rename is not None:
        state_dict = rename(state_dict)
    check_state_dict(state_dict, reference, what=what, source=source or str(checkpoint), required=required,
                     hint=hint)
    return state_dict


def load_trained(module, checkpoint, *, key='params', expect='complete', rename=None, what=None, hint='',
                 source=None):
    """Load trained weights into ``module`` after checking every key and shape; returns the state dict.

    The one way every family loads what was trained (a user's checkpoint, an exported model folder's
    ``model.safetensors``, an official release): nothing is unpickled beyond tensors, and one
    ``CheckpointMismatchError`` lists everything that does not fit.

    checkpoint: a file, or a state dict already read (``source`` then names it in messages);
    key: the wrapper key to unwrap first (``'params'`` for pyiqa, ``'state_dict'`` for most trainers);
    expect: ``'complete'`` (every tensor of ``module.state_dict()``), ``'trainable'`` (every trainable
    tensor; frozen ones may be absent) or ``'partial'`` (whatever the file holds, e.g. a base network
    the rest is loaded over); rename: ``dict -> dict`` applied after unwrapping (official names ->
    ours); what: the model, for messages (default: its class name).
    """
    if expect not in ('complete', 'trainable', 'partial'):
        raise ValueError(f"expect must be 'complete', 'trainable' or 'partial', got {expect!r}")
    reference = module.state_dict()
    required = {'complete': reference, 'trainable': trainable_state_dict(module), 'partial': ()}[expect]
    state_dict = read_checked_state_dict(checkpoint, reference, key=key, rename=rename, required=required,
                                         what=what or module.__class__.__name__, hint=hint, source=source)
    module.load_state_dict(state_dict, strict=expect == 'complete')
    return state_dict
