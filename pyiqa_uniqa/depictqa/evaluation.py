"""Accuracy of brief answers, scored as the official evaluation scripts do.

- Distortion identification: one ground-truth distortion -> exact match (case and a final period
  ignored). Two -> split on "and" and compare as sets: a full match counts 1, otherwise each
  predicted item found in the ground truth adds 1 / max(|pred|, |gt|).
- Instant rating: exact match of the verdict "Image A" / "Image B".
- Quality level (our extension): exact match of the level word.

The ``calculate_dq_*`` functions are pyiqa metric functions (``val.metrics.<name>.type``); they
take the predictions, answers and sample kinds and score the samples of their kind.
"""
import re

import torch
from tqdm import tqdm

from pyiqa_uniqa.depictqa.dataset import batch_to_requests
from pyiqa_uniqa.depictqa.records import KIND_IDENTIFY, KIND_RATE_AB, KIND_RATE_LEVEL


def _normalise(text):
    return text.strip().rstrip('.').strip().lower()


def distortion_items(text):
    return {item.strip() for item in re.split(r'\band\b|,', _normalise(text)) if item.strip()}


def distortion_score(prediction, answer):
    truth = distortion_items(answer)
    if len(truth) <= 1:
        return float(_normalise(prediction) == _normalise(answer))
    predicted = distortion_items(prediction)
    if predicted == truth:
        return 1.0
    return sum(item in truth for item in predicted) / max(len(predicted), len(truth))


def verdict(text):
    """'Image A' / 'Image B' / None: the first verdict named in the text."""
    match = re.search(r'Image ([AB])\b', text)
    return f'Image {match.group(1)}' if match else None


def _mean(values):
    values = list(values)
    return sum(values) / len(values) if values else float('nan')


def _of_kind(kind, predictions, answers, kinds):
    return [(p, a) for p, a, k in zip(predictions, answers, kinds) if k == kind]


def calculate_dq_distortion_accuracy(predictions, answers, kinds, **_):
    return _mean(distortion_score(p, a) for p, a in _of_kind(KIND_IDENTIFY, predictions, answers, kinds))


def calculate_dq_ab_accuracy(predictions, answers, kinds, **_):
    return _mean(float(verdict(p) == verdict(a)) for p, a in _of_kind(KIND_RATE_AB, predictions, answers, kinds))


def calculate_dq_level_accuracy(predictions, answers, kinds, **_):
    return _mean(float(_normalise(p) == _normalise(a))
                 for p, a in _of_kind(KIND_RATE_LEVEL, predictions, answers, kinds))



METRIC_FUNCTIONS = {'distortion_accuracy': calculate_dq_distortion_accuracy,
                    'ab_accuracy': calculate_dq_ab_accuracy,
                    'level_accuracy': calculate_dq_level_accuracy}


def answer_records(net, dataset, batch_size=16, progress=False):
    """Greedy brief answers to every record of a ``DQ495KDataset`` -> (predictions, answers, kinds).

    Records are decoded in batches (left-padded, KV cache); each last question is asked exactly as
    the record asks it, earlier turns are kept as context.
    """
    predictions, answers, kinds = [], [], []
    was_training = net.training
    net.eval()
    for start in tqdm(range(0, len(dataset), batch_size), desc='answering', unit='batch', disable=not progress):
        samples = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        requests = [batch_to_requests(torch.utils.data.default_collate([s]))[0] for s in samples]
        answers.extend(r['turns'][-1][1] for r in requests)
        kinds.extend(s['kind'] for s in samples)
        prompts = [dict(r, turns=r['turns'][:-1] + [(r['turns'][-1][0], None)]) for r in requests]
        predictions.extend(text for text, _, _ in net.answer(prompts))
    net.train(was_training)
    return predictions, answers, kinds


def evaluate_network(net, dataset, batch_size=16, progress=True):
    """{metric: accuracy, ..., 'count': number of records} on a ``DQ495KDataset``."""
    predictions, answers, kinds = answer_records(net, dataset, batch_size, progress)
    results = {name: fn(predictions, answers, kinds) for name, fn in METRIC_FUNCTIONS.items()}
    results['count'] = len(predictions)
    return results
