"""What ``score`` computes: one column per (metric, options, task), how it is made, what it is called.

- task ``'score'``: the number ``pyiqa.create_metric(name, **options)(image[, ref])`` returns; a
  network whose ``forward`` takes ``return_attributes`` (ATTIQA) also gives one column per
  attribute, ``<label>.<attribute>``;
- task ``'describe'`` (``--describe``, descriptive metrics such as ``depictqa``): the model's brief
  description and its confidence, ``<label>.description`` / ``<label>.confidence``, and
  ``<label>.low_confidence`` when the confidence is below ``--min-confidence`` (DepictQA uses the
  confidence to filter out unreliable answers).

``--precision fp16|bf16`` is passed as ``precision=`` to metrics whose network takes it (this
package's archs run their frozen towers under autocast; see docs/scoring.md for the tolerance);
any other metric refuses it, since pyiqa's built-ins would give other numbers in half precision.
"""
import functools
import hashlib
import inspect
import json
from dataclasses import dataclass, replace

from pyiqa_uniqa.apps.metrics.metric_specs import metric_config, network_class
from pyiqa_uniqa.errors import UserError

DEFAULT_MIN_CONFIDENCE = 0.5


def network_can(name, method):
    """Whether the network a metric name builds has ``method`` (e.g. DepictQA's describe, compare)."""
    return callable(getattr(network_class(name), method, None))


def takes_argument(function, argument):
    parameters = inspect.signature(function).parameters
    return argument in parameters


def check_device_precision(precision, device):
    """``--precision`` must be one the device can run (half precisions need torch.autocast there)."""
    if precision == 'fp32':
        return
    # imported here: this module stays torch-free at import (backbones.precision imports torch)
    from pyiqa_uniqa.backbones.precision import check_precision
    check_precision(precision, device, what='--precision')  # a PrecisionError is the user's InvalidOptionError


def with_precision(spec, precision):
    """``spec`` with ``precision=`` added when it is not fp32; refuses metrics that cannot take it."""
    if precision == 'fp32' or 'precision' in spec.options:
        return spec
    if not takes_argument(network_class(spec.name).__init__, 'precision'):
        raise UserError(
            f'--precision {precision}: {spec.label} has no reduced-precision mode (its network takes no '
            f'precision argument), and running it in {precision} would change its scores. Score it in a '
            'separate run without --precision, or with --precision fp32.')
    return replace(spec, options={**spec.options, 'precision': precision})


@dataclass(frozen=True)
class Column:
    """One requested output: a metric spec (``bench.metric_specs.MetricSpec``) and a task."""
    spec: object
    task: str = 'score'

    @property
    def full_reference(self):
        return metric_config(self.spec.name)['metric_mode'] == 'FR'

    @functools.cached_property
    def id(self):  # read for every record: the hash is computed once per column
        """A stable name for the journal: what the numbers depend on, hashed."""
        import pyiqa

        import pyiqa_uniqa
        identity = {'metric': self.spec.name, 'options': self.spec.options, 'task': self.task,
                    'pyiqa': pyiqa.__version__, 'pyiqa_uniqa': getattr(pyiqa_uniqa, '__version__', '')}
        text = json.dumps(identity, sort_keys=True, default=str)
        return f'{self.spec.name}:{self.task}#{hashlib.sha1(text.encode()).hexdigest()[:12]}'

    def header(self, extras=()):
        """Output column names for this column's value and its extras."""
        label = self.spec.label
        if self.task == 'describe':
            return [f'{label}.description', f'{label}.confidence', f'{label}.low_confidence']
        return [label] + [f'{label}.{name}' for name in extras]

    def row_key(self, row_key):
        """The journal key of a row for this column: a no-reference score does not depend on ``ref``."""
        path, ref = row_key
        return (path, ref if self.full_reference else '')


def check_describable(metric, column):
    if column.task == 'describe' and not callable(getattr(metric.net, 'describe', None)):
        raise UserError(f'--describe: {column.spec.label} does not describe images (no describe method); '
                        'give a descriptive metric such as depictqa or depictqa-fr.')


def as_floats(values, count, what):
    """``values`` (a tensor, array or list) as ``count`` floats; an error naming ``what`` otherwise."""
    import torch
    scores = torch.as_tensor(values).detach().float().cpu().reshape(-1)
    if scores.numel() != count:
        raise RuntimeError(f'{what} returned {scores.numel()} values for a batch of {count} images')
    return scores.tolist()


def gives_attributes(metric):
    """True when the metric's network can also return per-attribute scores (ATTIQA)."""
    return takes_argument(metric.net.forward, 'return_attributes')


def run_batch(metric, column, images, refs=None, attributes=False):
    """-> list (one per image) of ``{'score': float, 'extras': {...}}`` for ``images`` [B, 3, H, W];
    ``attributes``: ask the network for its attribute scores too (``gives_attributes``)."""
    count = len(images)
    if column.task == 'describe':
        answers = metric.net.describe(list(images), ref=list(refs) if refs is not None else None)
        return [{'score': None, 'extras': {'description': text, 'confidence': confidence}}
                for text, confidence in answers]
    arguments = (images, refs) if column.full_reference else (images,)
    output = metric(*arguments, return_attributes=True) if attributes else metric(*arguments)
    extras = {}
    if isinstance(output, (tuple, list)):
        output, rest = output[0], output[1:]
        if rest and isinstance(rest[0], dict):
            extras = {name: as_floats(value, count, f'{column.spec.label}.{name}') for name, value in rest[0].items()}
    scores = as_floats(output, count, column.spec.label)
    return [{'score': score, 'extras': {name: values[i] for name, values in extras.items()}}
            for i, score in enumerate(scores)]
