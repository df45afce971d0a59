"""CPU demo of the whole ATTIQA pipeline on the scikit-image photo-distortion dataset.

    python -m pyiqa_uniqa.apps.attiqa_demo.demo [--oracle-labels] [--with-baseline]

Run from a scratch directory (it writes ./datasets/attiqa_demo and ./experiments). Stages:
1. pseudo-label the training photos with ``pyiqa-uniqa label`` (a tiny random CLIP offline, so
   the labels carry no knowledge; ``--oracle-labels`` uses the known distortion severity instead,
   standing in for what a real CLIP approximates);
2. pre-train (options/attiqa/demo_pretrain.yml); 3. fine-tune on MOS (demo_finetune.yml).
After each stage it prints SRCCs on the held-out test photos: of the attribute scores against the
known attribute severity (stages 1-2), and of the quality score against MOS (stage 3; with
``--with-baseline`` also for fine-tuning from scratch).
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import pearsonr, spearmanr

from pyiqa_uniqa.attiqa.arch import ATTIQA
from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.attiqa.clip_scorer import CLIPAttributeScorer
from pyiqa_uniqa.attiqa.prompt_bank import DEFAULT_PAIRS
from pyiqa_uniqa.apps.select_prompts import sweep_srcc
from pyiqa_uniqa.backbones import create_clip, get_tokenizer
from pyiqa_uniqa.apps.cli import main as cli
from pyiqa_uniqa.data.distortions import ATTRIBUTE_EFFECTS
from pyiqa_uniqa.data.images import image_to_tensor
from pyiqa_uniqa.data.photo_datasets import build_nr_dataset

ROOT = Path('datasets/attiqa_demo')
PHOTOS = ROOT / 'photos'
LABELS = ROOT / 'attrs.csv'
BUILD_OPTS = {'size': 128, 'split_ratios': (0.5, 0.25, 0.25)}  # the recipes' build_opts: 4/2/2 photos
RECIPES = Path(__file__).parent  # shipped in the package (options/attiqa/ links to them)


def attribute_sweeps(meta):
    """{attribute: [(row indices, expected)]}: per test photo and distortion, pristine + levels."""
    sweeps = {name: [] for name in ATTRIBUTES}
    for _, rows in meta.groupby('photo'):
        pristine = rows.index[rows['distortion'] == 'pristine'].tolist()
        for distortion, group in rows.groupby('distortion'):
            for attribute, direction in ATTRIBUTE_EFFECTS.get(distortion, {}).items():
                indices = np.array(pristine + group.index.tolist())
                levels = np.array([0] * len(pristine) + group['level'].tolist(), dtype=float)
                sweeps[attribute].append((indices, direction * levels))
    return {k: v for k, v in sweeps.items() if v}


def attribute_table(scores, sweeps):
    """{attribute: mean sweep SRCC} for scores [N, 5] in ATTRIBUTES order."""
    return {name: sweep_srcc(scores[:, ATTRIBUTES.index(name)], sweeps[name]) for name in sweeps}


def oracle_labels(meta):
    """Known severity as labels in [0, 1]: 0.5 +- 0.1 x level along the distortion's direction."""
    labels = np.full((len(meta), len(ATTRIBUTES)), 0.5)
    for i, (distortion, level) in enumerate(zip(meta['distortion'], meta['level'])):
        for attribute, direction in ATTRIBUTE_EFFECTS.get(distortion, {}).items():
            labels[i, ATTRIBUTES.index(attribute)] += 0.1 * direction * level
    return labels


def load_images(paths, crop=96):
    images = []
    for path in paths:
        image = image_to_tensor(path)
        top, left = (image.shape[1] - crop) // 2, (image.shape[2] - crop) // 2
        images.append(image[:, top:top + crop, left:left + crop])
    return torch.stack(images)


def network_scores(checkpoint, images):
    """(quality [N], attributes [N, 5]) of the demo network loaded from ``checkpoint``."""
    net = ATTIQA('test_resnet', head_hidden=64, pretrained_model_path=str(checkpoint))
    with torch.no_grad():
        quality, attributes = net(images, return_attributes=True)
    return quality[:, 0].numpy(), torch.cat([attributes[n] for n in ATTRIBUTES], dim=1).numpy()


def run_command(*argv):
    """A ``pyiqa-uniqa`` command; the demo stops at the first that fails (its message is printed)."""
    status = cli(list(argv))
    if status:
        raise SystemExit(status)


def train(recipe, *extra):
    run_command('train', '-opt', str(RECIPES / recipe), *extra)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--oracle-labels', action='store_true')
    parser.add_argument('--with-baseline', action='store_true')
    args = parser.parse_args(argv)

    paths = build_nr_dataset(PHOTOS, progress=False, **BUILD_OPTS)
    meta = pd.read_csv(paths['meta_info_file'])
    train_rows = meta[meta['split'] == 'train']
    test = meta[meta['split'] == 'test'].reset_index(drop=True)
    sweeps = attribute_sweeps(test)
    test_images = load_images([PHOTOS / p for p in test['img_name']])
    report = []

    # stage 1: pseudo-labels for the training photos only (the test photos stay unseen)
    if args.oracle_labels:
        labels = pd.DataFrame(oracle_labels(train_rows), columns=list(ATTRIBUTES))
        labels.insert(0, 'image_path', train_rows['img_name'].to_numpy())
        labels['split'] = np.where(np.arange(len(labels)) % 7 == 0, 'val', 'train')
        labels.to_csv(LABELS, index=False)
        test_labels = oracle_labels(test)
    else:
        image_list = ROOT / 'pretrain_images.csv'
        train_rows[['img_name']].to_csv(image_list, index=False)
        run_command('label', '--images', str(image_list), '--image-root', str(PHOTOS), '--out', str(LABELS),
                    '--model-name', 'tiny-clip-quickgelu', '--backbone-weights', 'random', '--val-fraction', '0.15',
                    '--num-workers', '0', '--no-progress')
        test_labels = clip_labels(test_images)
    report.append(('1 pseudo-labels', attribute_table(test_labels, sweeps), None))

    # stage 2: attribute-aware pre-training
    train('demo_pretrain.yml')
    _, attributes = network_scores('experiments/attiqa_demo_pretrain/models/net_best.pth', test_images)
    report.append(('2 pre-trained heads', attribute_table(attributes, sweeps), None))

    # stage 3: MOS fine-tuning (and the from-scratch baseline)
    mos = test['mos'].to_numpy()
    runs = [('3 fine-tuned', 'attiqa_demo_finetune', [])]
    if args.with_baseline:
        runs.append(('3b from scratch', 'attiqa_demo_scratch',
                     ['--force_yml', 'name=attiqa_demo_scratch', 'path:pretrain_network=None']))
    for stage, name, extra in runs:
        train('demo_finetune.yml', *extra)
        quality, _ = network_scores(f'experiments/{name}/models/net_best.pth', test_images)
        report.append((stage, None, (spearmanr(quality, mos)[0], pearsonr(quality, mos)[0])))

    print(f'\nheld-out test photos: {sorted(test["photo"].unique())} ({len(test)} images)')
    print('stage                 ' + ' '.join(f'{n[:10]:>10}' for n in ATTRIBUTES) + '   MOS SRCC / PLCC')
    for stage, table, quality in report:
        cells = ' '.join(f'{table[n]:>+10.3f}' if table and n in table else f'{"":>10}' for n in ATTRIBUTES)
        print(f'{stage:<21} {cells}   ' + (f'{quality[0]:.3f} / {quality[1]:.3f}' if quality else ''))
    return 0


def clip_labels(images):
    """The demo labeller (tiny random CLIP, default prompts) on in-memory images."""
    clip = create_clip('tiny-clip-quickgelu', weights='random')  # seeded: the label command's random weights
    return CLIPAttributeScorer(clip, get_tokenizer('tiny-clip-quickgelu'), DEFAULT_PAIRS)(images).numpy()


if __name__ == '__main__':
    raise SystemExit(main())
