"""Find weight files and load them without ever executing a pickle.

Search order for a named file: an explicit path, an environment variable, pyiqa's cache dir
(``$TORCH_HOME/hub/pyiqa/<file>``, where pyiqa keeps its own weights), then a download. When all
fail the error names the file, where to get it and where to put it.

Loading uses ``torch.load(weights_only=True)`` (tensors and plain containers only) or
safetensors. A pickle that asks for anything else is refused before any of it runs.
"""
import os
import pickle
from pathlib import Path


class WeightsError(RuntimeError):
    """Base class: a weight file is missing or unusable."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    pass


class UnsafeWeightsError(WeightsError):
    """The file is a pickle that would run code or build arbitrary objects."""


class CorruptWeightsError(WeightsError):
    """Truncated, empty, or not a checkpoint at all."""


def pyiqa_cache_dir():
    """pyiqa's weight cache, computed like pyiqa does, without importing pyiqa."""
    import torch.hub
    return Path(torch.hub.get_dir()) / 'pyiqa'


def find_weights(filename, *, path=None, env_var=None, url=None, source_hint=''):
    """Return the path of ``filename``, trying each source in order (see module doc)."""
    tried = []
    if path:
        candidate = Path(path).expanduser()
        if candidate.is_file():
            return candidate
        raise WeightsNotFoundError(f'{filename}: the given path {candidate} does not exist.')
    if env_var:
        value = os.environ.get(env_var)
        if value:
            candidate = Path(value).expanduser()
            if candidate.is_file():
                return candidate
            raise WeightsNotFoundError(
                f'{filename}: ${env_var} points to {candidate}, which does not exist.')
        tried.append(f'${env_var} (not set)')
    cached = pyiqa_cache_dir() / filename
    if cached.is_file():
        return cached
    tried.append(str(cached))
    if url:
        try:
            return _download(url, cached)
        except Exception as err:  # noqa: BLE001 - any network failure becomes one clear message
            tried.append(f'download from {url} failed: {err.__class__.__name__}: {err}')
    where = f' Get it from {source_hint}.' if source_hint else ''
    put = f'set ${env_var} to its path, or ' if env_var else ''
    raise WeightsNotFoundError(
        f'Weight file {filename!r} not found.{where} Then {put}put it at {cached} '
        f'(or pass its path explicitly). Tried: {"; ".join(tried)}.')


def _download(url, destination):
    import torch.hub
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + '.part')
    torch.hub.download_url_to_file(url, str(partial), progress=True)
    os.replace(partial, destination)  # a killed download never leaves a file that looks complete
    return destination


def load_state_dict(path):
    """Load a checkpoint file safely; returns whatever tensor container it holds."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f'{path} does not exist.')
    if path.stat().st_size == 0:
        raise CorruptWeightsError(f'{path} is empty.')
    if path.suffix == '.safetensors':
        from safetensors.torch import load_file
        try:
            return load_file(str(path))
        except Exception as err:  # noqa: BLE001
            raise CorruptWeightsError(f'{path} is not a readable safetensors file: {err}') from err
    import torch
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        refused = _refused_global(err)
        if refused is None:  # the unpickler met bytes that are no pickle at all
            raise CorruptWeightsError(f'{path} is not a PyTorch checkpoint ({_first_line(err)}).') from err
        # weights_only refuses globals it does not know *before* constructing them
        raise UnsafeWeightsError(
            f'{path} contains pickled objects that are not plain tensors ({refused}). '
            'It was not loaded: a pickle can run arbitrary code. Re-save the file as a plain '
            'state dict (torch.save(model.state_dict(), ...)) or as safetensors.') from err
    except Exception as err:  # noqa: BLE001 - a damaged file fails in many ways inside the unpickler
        raise CorruptWeightsError(
            f'{path} is truncated or not a PyTorch checkpoint ({_first_line(err)}).') from err


def _refused_global(err):
    for line in str(err).splitlines():
        if 'Unsupported global' in line or 'GLOBAL' in line:
            return line.strip()
    return None


def _first_line(err):
    text = str(err).strip().splitlines()
    return text[0] if text else err.__class__.__name__


def unwrap_params(checkpoint, key='params'):
    """Return the state dict from pyiqa's ``{'params': sd}`` wrapper or a bare state dict."""
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
        checkpoint = checkpoint[key]
    if not isinstance(checkpoint, dict):
        raise CorruptWeightsError(f'expected a state dict, found {type(checkpoint).__name__}.')
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in checkpoint.items()}
