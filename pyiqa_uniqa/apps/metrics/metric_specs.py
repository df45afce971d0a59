"""Which metrics to run, with per-metric options: ``-m name[:key=value,...]`` and ``--metric-opt``.

pyiqa's own CLI cannot pass options to a metric; ``eval`` and ``bench`` can, because tiny offline
checkpoints, local weight files and ablations all need them:

    -m psnr "uniqa:model_name=tiny-clip-quickgelu,backbone_weights=/tmp/tiny.pt"

Values are read as YAML scalars (``3`` is an int, ``true`` a bool, ``[1, 2]`` a list); a value
that contains a comma must go into a ``--metric-opt`` YAML instead, which maps a label to options
and may name the pyiqa metric under ``metric:`` to define several variants of one metric:

    uniqa-tiny: {metric: uniqa, model_name: tiny-clip-quickgelu, backbone_weights: /tmp/tiny.pt}
    topiq_nr: {test_img_size: 384}

A ``-m`` name that is a label in that file uses its options (``-m`` options win on conflict).
"""
from dataclasses import dataclass, field

import yaml

from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.options import load_yaml


@dataclass
class MetricSpec:
    label: str  # what tables and file names call it
    name: str  # the pyiqa metric name given to create_metric
    options: dict = field(default_factory=dict)  # extra create_metric kwargs


class MetricSpecError(UserError, ValueError):
    """A ``-m`` spec or ``--metric-opt`` file that cannot be read, or an unknown metric name."""


def _parse_inline(spec):
    name, _, option_text = spec.partition(':')
    name = name.strip()
    if not name:
        raise MetricSpecError(f'metric spec {spec!r} has no metric name')
    options = {}
    for item in filter(None, (part.strip() for part in option_text.split(','))):
        key, sep, value = item.partition('=')
        if not sep or not key.strip():
            raise MetricSpecError(
                f'metric spec {spec!r}: option {item!r} is not key=value '
                '(values containing commas go into a --metric-opt YAML)')
        options[key.strip()] = yaml.safe_load(value) if value.strip() else ''
    return name, options


def load_metric_options(path):
    """Read a ``--metric-opt`` YAML: ``{label: {metric: name?, **options}}`` (as plain data: ``options.load_yaml``)."""
    data = load_yaml(path, what='--metric-opt file')
    if not all(isinstance(v, dict) or v is None for v in data.values()):
        raise MetricSpecError(f'{path}: expected a mapping of metric label -> mapping of options')
    return {str(label): dict(options or {}) for label, options in data.items()}


def parse_metric_specs(specs, option_file=None):
    """Turn ``-m`` arguments (and an optional options YAML) into unique ``MetricSpec``s.

    With no ``-m`` at all, every label in the options file is run. Two specs with the same label
    (``-m uniqa:a=1 uniqa:a=2``) are labelled by their full spec so their rows stay apart.
    """
    file_options = load_metric_options(option_file) if option_file else {}
    specs = list(specs or file_options)
    if not specs:
        raise MetricSpecError('no metrics given: use -m NAME [NAME ...] or --metric-opt FILE')
    parsed = []
    for spec in specs:
        label, inline = _parse_inline(spec)
        options = dict(file_options.get(label, {}))
        name = str(options.pop('metric', label))
        options.update(inline)
        parsed.append(MetricSpec(label, name, options))
    labels = [p.label for p in parsed]
    for spec, item in zip(specs, parsed):
        if labels.count(item.label) > 1:
            item.label = spec.strip()
    return parsed


def check_metric_names(specs):
    """Raise with the close matches when a name is not a pyiqa (or plugin) metric."""
    import difflib

    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    for spec in specs:
        if spec.name not in DEFAULT_CONFIGS:
            close = difflib.get_close_matches(spec.name, list(DEFAULT_CONFIGS), n=3)
            hint = f' Did you mean {", ".join(close)}?' if close else ''
            raise MetricSpecError(
                f'unknown metric {spec.name!r}.{hint} `pyiqa -ls` lists all metric names.')


def metric_config(name):
    """pyiqa's config of a metric name (``DEFAULT_CONFIGS``, with this package's names merged in)."""
    from pyiqa.default_model_configs import DEFAULT_CONFIGS
    return DEFAULT_CONFIGS[name]


def network_class(name):
    """The arch class a metric name builds. pyiqa registers its own archs only when ``build_network``
    first asks for them, so this imports the arch's module the way ``build_network`` does."""
    from pyiqa.archs import _lazy_import_arch  # pyiqa 0.1.16 (the version the package pins)
    from pyiqa.utils.registry import ARCH_REGISTRY

    arch = metric_config(name)['metric_opts']['type']
    if arch not in ARCH_REGISTRY:
        _lazy_import_arch(arch)
    return ARCH_REGISTRY.get(arch)
