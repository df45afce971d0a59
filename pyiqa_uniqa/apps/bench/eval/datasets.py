"""Resolve ``-d`` names and ``--data-opt`` files into pyiqa dataset options, and check their files.

Sources, later ones winning for the same name:
1. pyiqa's packaged ``default_dataset_configs.yml`` (koniq10k, livec, spaq, csiq, kadid10k, ...), with
   its ``./datasets/...`` paths rebased onto ``--data-root`` as ``pyiqa.load_dataset`` does;
2. this package's presets (``dataset_presets.yml``: the offline scikit-image photo datasets);
3. a ``--data-opt`` YAML, which is either ``{name: {pyiqa dataset options}}``, one options mapping
   (it has a ``type``), or a pyiqa training options file (its ``datasets:`` section is used). An
   entry named like a built-in one only overrides the keys it gives (e.g. ``dataroot_target``).

Paths in a YAML are relative to the current directory, as in pyiqa options files.
Files are checked before anything is built so that an absent dataset costs nothing and is
reported in its table cells; ``--download`` lets ``pyiqa.load_dataset`` fetch pyiqa's own datasets.
"""
import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml

from pyiqa_uniqa.data.dataset_files import PATH_KEYS, missing_paths
from pyiqa_uniqa.errors import InvalidOptionError
from pyiqa_uniqa.options import load_yaml

PRESETS_FILE = Path(__file__).with_name('dataset_presets.yml')
PYIQA_SOURCE = 'pyiqa default_dataset_configs.yml'


class DatasetOptionsError(InvalidOptionError):
    """A dataset name or --data-opt entry that cannot be used as given."""


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be used in this run (files absent, download failed); one cell reports it."""


@dataclass
class DatasetSpec:
    name: str
    options: dict  # pyiqa dataset options, paths resolved
    source: str  # where the options came from, for messages

    @property
    def mos_lower_better(self):
        """Direction of the MOS the dataset yields (pyiqa's mos_normalize turns them higher-better)."""
        if self.options.get('mos_normalize'):
            return False
        return bool(self.options.get('lower_better', False))


def _rebase(path, data_root):
    """``./datasets/x/y`` -> ``<data_root>/x/y`` (the rule of ``pyiqa.load_dataset``)."""
    parts = Path(path).parts  # pathlib drops the leading './'
    if parts and parts[0] == 'datasets':
        return str(Path(data_root, *parts[1:]))
    return str(path)


def pyiqa_dataset_configs(data_root):
    from pyiqa import get_dataset_info

    configs = {}
    for name, options in get_dataset_info().items():
        options = dict(options)
        for key in PATH_KEYS:
            if options.get(key):
                options[key] = _rebase(options[key], data_root)
        configs[name] = options
    return configs


def preset_dataset_configs(data_root):
    with open(PRESETS_FILE, encoding='utf-8') as f:
        presets = yaml.safe_load(f) or {}
    return {name: {k: (str(Path(data_root, v)) if k in PATH_KEYS and v else v) for k, v in opts.items()}
            for name, opts in presets.items()}


def load_data_opt(path):
    """Read a ``--data-opt`` YAML into ``{name: options}`` (see module doc for the three shapes), as plain
    data (``options.load_yaml``: a Python tag, a syntax error or a non-mapping names the file and line)."""
    data = load_yaml(path, what='--data-opt file')
    if isinstance(data.get('datasets'), dict):  # a pyiqa training/test options file
        return {str(opts.get('name', phase)): dict(opts) for phase, opts in data['datasets'].items()
                if isinstance(opts, dict)}
    if 'type' in data:  # one dataset's options
        return {str(data.get('name', Path(path).stem)): data}
    bad = [name for name, opts in data.items() if not isinstance(opts, dict)]
    if bad:
        raise DatasetOptionsError(f'{path}: entries {bad} are not mappings of pyiqa dataset options')
    return {str(name): dict(opts) for name, opts in data.items()}


def resolve_datasets(names, data_opt=None, data_root='./datasets'):
    """Return a ``DatasetSpec`` per requested name (all of ``data_opt``'s when ``names`` is empty)."""
    known = {name: (opts, PYIQA_SOURCE)
             for name, opts in pyiqa_dataset_configs(data_root).items()}
    known.update({name: (opts, 'pyiqa-uniqa preset') for name, opts in preset_dataset_configs(data_root).items()})
    from_file = load_data_opt(data_opt) if data_opt else {}
    for name, opts in from_file.items():
        base = known.get(name, ({}, None))[0]
        known[name] = ({**base, **opts}, str(data_opt))
    names = list(names or from_file)
    if not names:
        raise DatasetOptionsError('no datasets given: use -d NAME [NAME ...] and/or --data-opt FILE')
    specs = []
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=3)
            hint = f' Did you mean {", ".join(close)}?' if close else ''
            raise DatasetOptionsError(f'unknown dataset {name!r}.{hint} Known: {", ".join(sorted(known))}; '
                             'other datasets can be described in a --data-opt YAML.')
        options, source = known[name]
        if 'type' not in options:
            raise DatasetOptionsError(f'dataset {name!r} ({source}) has no `type` (e.g. GeneralNRDataset)')
        options = dict(options)
        options.setdefault('name', name)
        specs.append(DatasetSpec(name, options, source))
    return specs


def missing_files(spec):
    """Paths the dataset needs that do not exist (nothing for self-building types)."""
    return [path for _, path in missing_paths(spec.options)]


def ensure_available(spec, data_root, download=False):
    """Raise ``DatasetUnavailable`` unless the dataset's files are there (fetching them if asked)."""
    missing = missing_files(spec)
    if not missing:
        return
    is_pyiqa_dataset = spec.source == PYIQA_SOURCE
    if download and is_pyiqa_dataset:
        try:
            from pyiqa import load_dataset
            load_dataset(spec.name, data_root=data_root)
        except Exception as err:
            raise DatasetUnavailable(f'download failed: {type(err).__name__}: {err}') from err
        missing = missing_files(spec)
        if not missing:
            return
    how = (f'`--download` fetches it (pyiqa.load_dataset, from Hugging Face) into {data_root}, or '
           'point --data-root / a --data-opt YAML at your copy' if is_pyiqa_dataset else
           f'fix the paths in {spec.source}')
    raise DatasetUnavailable(f'not found: {", ".join(missing)}; {how}')
