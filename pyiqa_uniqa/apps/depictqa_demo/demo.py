"""``python -m pyiqa_uniqa.apps.depictqa_demo.demo``: DepictQA learns to judge distortions, offline, on CPU.

1. builds the build-dq data of ``options/depictqa/demo.yml`` from the scikit-image photos
   (two photos held out), 2. measures the held-out accuracies of the untrained tiny VLM,
3. trains it with ``pyiqa-uniqa train -opt options/depictqa/demo.yml`` (LoRA + projector),
4. measures them again with the trained delta and prints both, next to chance level.
"""
import argparse
import os
from collections import Counter
from pathlib import Path

import torch

from pyiqa_uniqa.apps.cli import main as cli_main
from pyiqa_uniqa.depictqa.arch import DepictQA
from pyiqa_uniqa.depictqa.dataset import DQ495KDataset
from pyiqa_uniqa.depictqa.evaluation import METRIC_FUNCTIONS, evaluate_network
from pyiqa_uniqa.depictqa.records import record_kind, record_turns
from pyiqa_uniqa.options import load_yaml

DEFAULT_OPTIONS = Path(__file__).with_name('demo.yml')  # shipped in the package; options/depictqa/ links to it


def _datasets(options):
    train = DQ495KDataset(dict(options['datasets']['train'], phase='train'))  # builds the data if missing
    heldout = DQ495KDataset(dict(options['datasets']['val'], phase='val'))
    return train, heldout


def _chance(dataset):
    """Accuracy of always giving the most frequent held-out answer of each kind."""
    answers, kinds = [], []
    for record in dataset.records:
        answer = record_turns(record)[-1][1]
        answers.append(answer)
        kinds.append(record_kind(record, answer))
    common = {kind: Counter(a for a, k in zip(answers, kinds) if k == kind).most_common(1)[0][0] for kind in set(kinds)}
    predictions = [common[k] for k in kinds]
    return {name: fn(predictions, answers, kinds) for name, fn in METRIC_FUNCTIONS.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--opt', default=str(DEFAULT_OPTIONS), help='the demo options YAML')
    parser.add_argument('--skip-train', action='store_true', help='evaluate the latest checkpoint of an earlier run')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # a tiny model: extra threads only add synchronisation
    options = load_yaml(args.opt)
    _, heldout = _datasets(options)
    network = {k: v for k, v in options['network'].items() if k != 'type'}

    before = evaluate_network(DepictQA(**network), heldout)
    if not args.skip_train:
        cli_main(['train', '-opt', args.opt])
    checkpoint = Path(os.getcwd()) / 'experiments' / options['name'] / 'models' / 'net_latest.pth'
    after = evaluate_network(DepictQA(**network, pretrained_model_path=checkpoint), heldout)
    chance = _chance(heldout)
    print(f"\nheld-out photos: {before['count']} brief questions (single-word, count stated)")
    print(f"{'metric':<22}{'chance':>10}{'before':>10}{'after':>10}")
    for name in chance:
        if chance[name] == chance[name]:  # NaN: the held-out set has no question of that kind
            print(f'{name:<22}{chance[name]:>10.3f}{before[name]:>10.3f}{after[name]:>10.3f}')
    return before, after


if __name__ == '__main__':
    main()
