"""The scoring service behind the page and the API: every metric loaded once, requests batched.

A score is computed as ``pyiqa-uniqa score`` computes it: the image is read by the rule
``create_metric(...)(path)`` uses (``data.pyiqa_reading.read_for_metric``: this package's metrics
through the one reader, pyiqa's own through its reader made strict), and the metric runs through
``scoring.columns.run_batch`` (ATTIQA's attributes, DepictQA's description and confidence), so a
number from the page or the API equals the table's for the same file.

Batching (``batcher.py``): concurrent requests for the same metric and image size run as one
forward pass of up to ``max_batch`` images. Metrics that ``score`` runs one image at a time
(language models: ``run_defaults.metric_kind`` says 'language') and DepictQA's A/B comparison are never batched.
"""
from dataclasses import dataclass, field
from pathlib import Path

from pyiqa_uniqa.apps.app.batcher import Batcher
from pyiqa_uniqa.apps.app.limits import RequestError, RequestLimits, TimedOutError

DEFAULT_MAX_BATCH = 8
DEFAULT_QUEUE_SIZE = 32
DEFAULT_WAIT_MS = 10
DEFAULT_TIMEOUT_S = 300
# option values that mark the offline test kit's geometries or random weights (pyiqa_uniqa.testing)
TEST_KIT_PREFIXES = ('tiny', 'test_')


def weights_note(spec):
    """A warning when a metric runs on random or test-kit weights (its numbers mean nothing), else ''."""
    from pyiqa_uniqa.weights import RANDOM

    marked = [f'{key}={value}' for key, value in spec.options.items()
              if isinstance(value, str) and (value == RANDOM or value.startswith(TEST_KIT_PREFIXES))]
    if not marked:
        return ''
    return f'{spec.label} runs on random or tiny test weights ({", ".join(marked)}): its numbers mean nothing.'


@dataclass
class ServedMetric:
    """One loaded metric and what it can do."""
    spec: object  # bench.metric_specs.MetricSpec
    metric: object  # pyiqa's InferenceModel
    columns: dict  # task -> scoring.columns.Column
    ours: bool  # read by this package's reader (pyiqa_reading.is_ours)
    attributes: bool  # ATTIQA: per-attribute scores
    compares: bool  # DepictQA: A/B verdicts in words
    batch_limit: int
    note: str = ''

    @property
    def label(self):
        return self.spec.label

    @property
    def full_reference(self):
        return self.columns['score'].full_reference

    @property
    def lower_better(self):
        return bool(getattr(self.metric, 'lower_better', False))


@dataclass
class ServiceSettings:
    device: str = 'cpu'
    max_batch: int = DEFAULT_MAX_BATCH  # 1: batching off
    queue_size: int = DEFAULT_QUEUE_SIZE
    wait_ms: float = DEFAULT_WAIT_MS
    timeout_s: float = DEFAULT_TIMEOUT_S
    min_confidence: float = 0.5
    limits: RequestLimits = field(default_factory=RequestLimits)


class ScoringService:
    def __init__(self, specs, settings):
        """Load every metric of ``specs`` (``MetricSpec``s) on ``settings.device`` and start the worker."""
        self.settings = settings
        self.metrics = {spec.label: self._load(spec) for spec in specs}
        self.batcher = Batcher(self._run_group, self._batch_limit, settings.queue_size, settings.wait_ms / 1000)

    def _load(self, spec):
        import pyiqa

        from pyiqa_uniqa.apps.run_defaults import metric_kind
        from pyiqa_uniqa.apps.scoring.columns import Column, gives_attributes, network_can
        from pyiqa_uniqa.data.pyiqa_reading import is_ours

        metric = pyiqa.create_metric(spec.name, device=self.settings.device, **spec.options)
        metric.eval()
        columns = {'score': Column(spec)}
        if network_can(spec.name, 'describe'):
            columns['describe'] = Column(spec, 'describe')
        one_at_a_time = metric_kind(metric, spec.name) == 'language'
        return ServedMetric(spec, metric, columns, is_ours(type(metric.net)), gives_attributes(metric),
                            network_can(spec.name, 'compare'), 1 if one_at_a_time else self.settings.max_batch,
                            weights_note(spec))

    def close(self):
        self.batcher.close()

    def describe_metrics(self):
        """What ``/api/metrics`` answers: each metric's label, name, mode and notes."""
        return [{'label': m.label, 'metric': m.spec.name, 'full_reference': m.full_reference,
                 'lower_better': m.lower_better, 'attributes': m.attributes, 'describes': 'describe' in m.columns,
                 'compares': m.compares, 'batch_limit': m.batch_limit, 'note': m.note}
                for m in self.metrics.values()]

    def notes(self):
        return [m.note for m in self.metrics.values() if m.note]

    # --- the worker's side ------------------------------------------------------------------------
    def _batch_limit(self, group):
        label, task, _ = group
        return 1 if task.startswith('compare') else self.metrics[label].batch_limit

    def _run_group(self, group, items):
        import torch

        from pyiqa_uniqa.apps.scoring.columns import run_batch

        label, task, _ = group
        served = self.metrics[label]
        device = self.settings.device
        with torch.no_grad():
            if task in ('compare', 'compare-detail'):
                (a, b, ref), = items
                answer = served.metric.net.compare(a.to(device), b.to(device), ref=None if ref is None else ref.to(device),
                                                   detail=task == 'compare-detail')
                confidence = None if answer.confidence is None else float(answer.confidence)
                return [{'answer': answer.text, 'confidence': confidence}]
            images = torch.stack([image for image, _ in items]).to(device)
            refs = torch.stack([ref for _, ref in items]).to(device) if served.full_reference else None
            return run_batch(served.metric, served.columns[task], images, refs,
                             attributes=task == 'score' and served.attributes)

    # --- the request side -------------------------------------------------------------------------
    def _read(self, path, name, ours):
        from pyiqa_uniqa.data.pyiqa_reading import read_for_metric
        try:
            return read_for_metric(str(path), ours)[0]
        except (OSError, ValueError) as err:  # the message names the file as the user called it, not our copy
            raise RequestError(f'{name}: cannot be read as an image ({str(err).replace(str(path), name)}).') from None

    def _reader(self, path, name):
        """Reads ``path`` once per reading rule, on first use (``path`` None: no image)."""
        cache = {}

        def read(ours):
            if path is None:
                return None
            if ours not in cache:
                cache[ours] = self._read(path, name, ours)
            return cache[ours]
        return read

    def _submit(self, served, task, inputs):
        shapes = tuple(tuple(x.shape) for x in inputs if x is not None)
        return self.batcher.submit((served.label, task, shapes), tuple(inputs))

    def _wait(self, future, what):
        from concurrent.futures import TimeoutError as FutureTimeout
        try:
            return future.result(timeout=self.settings.timeout_s), ''
        except FutureTimeout:
            future.cancel()
            raise TimedOutError(f'{what}: no answer within {self.settings.timeout_s:g} s; retry later.') from None
        except RequestError:
            raise
        except Exception as err:  # noqa: BLE001 - the metric failed on this input: its cell says why
            return None, f'{type(err).__name__}: {err}'

    def chosen(self, labels):
        """The served metrics named by ``labels`` (all of them for None or empty); a ``RequestError`` for a
        label this server has not loaded."""
        if not labels:
            return list(self.metrics.values())
        unknown = [label for label in labels if label not in self.metrics]
        if unknown:
            raise RequestError(f'unknown metric {unknown[0]!r}: this server runs {", ".join(self.metrics)} '
                               '(start it with -m NAME for others).')
        return [self.metrics[label] for label in dict.fromkeys(labels)]

    def score(self, path, name=None, ref=None, ref_name=None, metrics=None):
        """The metrics labelled ``metrics`` (default: all) on one image (and its reference, for
        full-reference metrics).

        -> ``{'image', 'ref', 'metrics': {label: {'score', 'attributes'?, 'description'?, 'confidence'?,
        'low_confidence'?, 'error'?}}, 'notes'}``.
        """
        chosen = self.chosen(metrics)
        name = name or Path(path).name
        ref_name = ref_name or (Path(ref).name if ref else None)
        self.settings.limits.check_image(path, name)
        if ref is not None:
            self.settings.limits.check_image(ref, ref_name)
        with self.batcher.admit():
            image, reference = self._reader(path, name), self._reader(ref, ref_name)
            runnable = [served for served in chosen if ref is not None or not served.full_reference]
            # every image is read before any job is queued: a file that cannot be read queues nothing
            inputs = {served.label: (image(served.ours), reference(served.ours) if served.full_reference else None)
                      for served in runnable}
            pending = [(served, task, self._submit(served, task, inputs[served.label]))
                       for served in runnable for task in served.columns]
            results = {served.label: {} if served.label in inputs else {'error': 'full-reference metric: give a reference '
                                                                                 'image'} for served in chosen}
            try:
                for served, task, future in pending:
                    self._fill(results[served.label], task, *self._wait(future, name))
            except TimedOutError:
                for *_, future in pending:
                    future.cancel()
                raise
        return {'image': name, 'ref': ref_name, 'metrics': results, 'notes': self.notes()}

    def _fill(self, cell, task, value, error):
        """Put one job's answer (or its error) into the metric's cell of a score answer."""
        if error:
            cell['error'] = error
        elif task == 'describe':
            confidence = value['extras']['confidence']
            cell.update(description=value['extras']['description'], confidence=confidence,
                        low_confidence=confidence is not None and confidence < self.settings.min_confidence)
        else:
            cell['score'] = value['score']
            if value['extras']:
                cell['attributes'] = value['extras']

    def compare(self, path_a, path_b, ref=None, names=(None, None, None), metrics=None, detail=False):
        """The metrics labelled ``metrics`` (default: all) on images A and B (full-reference ones against
        ``ref``) and each descriptive metric's verdict (``detail``: its reasoning in a paragraph instead of
        "Image A" / "Image B").

        -> ``{'A', 'B', 'ref', 'metrics': {label: {'A', 'B', 'better'} or {'error'}},
        'verdicts': {label: {'answer', 'confidence', 'low_confidence', 'text'}}, 'notes'}``."""
        name_a, name_b, ref_name = (n or (Path(p).name if p else None) for n, p in zip(names, (path_a, path_b, ref)))
        chosen = self.chosen(metrics)
        labels = [served.label for served in chosen]
        one = self.score(path_a, name_a, ref, ref_name, labels)
        two = self.score(path_b, name_b, ref, ref_name, labels)
        scores = {}
        for served in chosen:
            a, b = one['metrics'][served.label], two['metrics'][served.label]
            if 'score' not in a or 'score' not in b:
                scores[served.label] = {'error': a.get('error') or b.get('error')}
                continue
            better = 'tie' if a['score'] == b['score'] else (
                'A' if (a['score'] < b['score']) == served.lower_better else 'B')
            scores[served.label] = {'A': a['score'], 'B': b['score'], 'better': better}
        verdicts = {}
        with self.batcher.admit():
            for served in chosen:
                if not served.compares:
                    continue
                if served.full_reference and ref is None:
                    verdicts[served.label] = {'error': 'full-reference model: give a reference image'}
                    continue
                read_a, read_b, read_ref = (self._reader(p, n) for p, n in ((path_a, name_a), (path_b, name_b),
                                                                             (ref, ref_name)))
                inputs = (read_a(served.ours), read_b(served.ours), read_ref(served.ours) if ref else None)
                task = 'compare-detail' if detail else 'compare'
                value, error = self._wait(self._submit(served, task, inputs), f'{name_a} vs {name_b}')
                verdicts[served.label] = {'error': error} if error else self._verdict(served, value)
        return {'A': name_a, 'B': name_b, 'ref': ref_name, 'metrics': scores, 'verdicts': verdicts,
                'notes': self.notes()}

    def _verdict(self, served, value):
        """The answer in words; a detailed answer has no confidence when the model has no sentence embedder."""
        confidence = value['confidence']
        low = confidence is not None and confidence < self.settings.min_confidence
        text = value['answer']
        choice = {'Image A': 'image A', 'Image B': 'image B'}.get(text)
        words = f'{served.label} judges {choice} better' if choice else f'{served.label} answers: {text}'
        if confidence is not None:
            words += f' (confidence {confidence:.2f}{", low: treat with care" if low else ""})'
        return {**value, 'low_confidence': low, 'text': words + ('' if words.endswith('.') else '.')}
