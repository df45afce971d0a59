"""What a metric command checks about its metrics before any model is loaded: options and device.

``create_metric(name, **options)`` hands the options to the network's constructor, so a misspelt
key (``num_crop=2``) or a value of the wrong type (``num_crops=abc``) would end in a ``TypeError``
deep inside pyiqa after other models were loaded. Here each option is checked against the
constructor's signature: an unknown key names the close matches and every accepted key; a value
whose type differs from the parameter's default (a number where a number is expected, true/false
where a switch is) is refused. Ranges are the constructor's own business: a ``ValueError`` or
``TypeError`` it raises for given options becomes a ``MetricOptionError`` (``refused_options``).

The device is checked the same way: ``--device cuda`` without a usable GPU is one line, not the
driver's error after start-up.
"""
import difflib
import inspect

from pyiqa_uniqa.apps.metrics.metric_specs import MetricSpecError, metric_config, network_class
from pyiqa_uniqa.errors import UserError

# create_metric's own keywords (pyiqa's InferenceModel), accepted for every metric
CREATE_METRIC_KEYWORDS = ('as_loss', 'loss_weight', 'loss_reduction', 'seed', 'check_input_range', 'metric_mode')


class MetricOptionError(MetricSpecError):
    """A metric option the metric does not take, or a value it cannot use."""


def _constructor_parameters(cls):
    """{name: Parameter} the network's constructor takes, or None when it takes any keyword."""
    import torch

    if cls.__init__ is torch.nn.Module.__init__:
        return {}  # no constructor of its own (pyiqa's piqe): no options at all
    parameters = dict(inspect.signature(cls.__init__).parameters)
    parameters.pop('self', None)
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return None
    return {name: p for name, p in parameters.items() if p.kind is not p.VAR_POSITIONAL}


def _type_problem(value, default):
    """Why ``value`` cannot stand where ``default`` is the default, or ''."""
    if default is inspect.Parameter.empty or default is None or value is None:
        return ''
    if isinstance(default, bool):
        return '' if isinstance(value, bool) else 'true or false'
    if isinstance(default, int):
        return '' if isinstance(value, int) and not isinstance(value, bool) else 'a whole number'
    if isinstance(default, float):
        return '' if isinstance(value, (int, float)) and not isinstance(value, bool) else 'a number'
    if isinstance(default, str):
        return '' if isinstance(value, str) else 'text'
    return ''


def check_metric_options(specs):
    """Refuse an option a spec's metric does not take, or a value of the wrong type (see the module doc)."""
    for spec in specs:
        if not spec.options:
            continue
        parameters = _constructor_parameters(network_class(spec.name))
        if parameters is None:
            continue  # the constructor takes any keyword: nothing to check against
        defaults = dict(metric_config(spec.name).get('metric_opts', {}))
        defaults.pop('type', None)
        for key, value in spec.options.items():
            if key in CREATE_METRIC_KEYWORDS:
                continue
            if key not in parameters:
                accepted = sorted(parameters)
                close = difflib.get_close_matches(key, accepted, n=1)
                hint = f' Did you mean {close[0]!r}?' if close else ''
                takes = f'it takes {", ".join(accepted)}' if accepted else 'it takes no options'
                raise MetricOptionError(f'metric {spec.label}: unknown option {key!r}.{hint} '
                                        f'({spec.name}: {takes}.)')
            default = defaults.get(key, parameters[key].default)
            problem = _type_problem(value, default)
            if problem:
                raise MetricOptionError(f'metric {spec.label}: option {key}={value!r} must be {problem} '
                                        f'(default {default!r}).')


def refused_options(spec, err):
    """The ``MetricOptionError`` for a ``TypeError``/``ValueError`` the constructor raised on ``spec``'s
    options, or None when the spec has no options (then it is not the user's)."""
    if not spec.options:
        return None
    given = ', '.join(f'{k}={v!r}' for k, v in spec.options.items())
    first = (str(err).strip().splitlines() or [''])[0]
    return MetricOptionError(f'metric {spec.label}: {spec.name} refused the options {given}: {first}')


def check_device(device, flag='--device'):
    """Refuse a device torch cannot name or this machine does not have; None (the default) passes."""
    if not device:
        return
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise UserError(f'{flag} {device}: not a device name; give cpu, cuda, cuda:1, mps, ...') from None
    if parsed.type == 'cuda':
        if not torch.cuda.is_available():
            raise UserError(f'{flag} {device}: no CUDA GPU is usable here (torch {torch.__version__}, '
                            f'built for CUDA {torch.version.cuda or "none"}); use --device cpu or leave it out.')
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise UserError(f'{flag} {device}: this machine has {torch.cuda.device_count()} GPU(s), '
                            f'cuda:0 to cuda:{torch.cuda.device_count() - 1}.')
    elif parsed.type == 'mps' and not torch.backends.mps.is_available():
        raise UserError(f'{flag} {device}: Apple MPS is not available here; use --device cpu.')
    elif parsed.type not in ('cpu', 'cuda', 'mps'):
        raise UserError(f'{flag} {device}: pyiqa-uniqa runs on cpu, cuda or mps.')
