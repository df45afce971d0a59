"""What the demo reports: held-out scores per stage, the tables, the figure and the reuse lines.

The held-out photos are the dataset's ``test`` split: whole photos that no stage reads, neither for
training nor for choosing a checkpoint (those use ``train`` and ``val``). Every scorer sees the same
images in the same order, and the scores are deterministic (seeded crops), so two runs print the
same results table.
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from scipy import stats
from tqdm import tqdm

from pyiqa_uniqa.data.images import image_to_tensor, read_image

CHUNK = 8  # images per forward: the official ViT-B/16 on 5 crops of 8 images stays within a few GB


@dataclass
class HeldOut:
    names: list
    photos: list  # source photo of each image
    mos: np.ndarray
    images: list  # 8-bit PIL images (a quarter of the memory of tensors), converted per chunk

    @classmethod
    def read(cls, dataset_root):
        table = pd.read_csv(f'{dataset_root}/meta_info.csv')
        table = table[table['split'] == 'test']
        images = [read_image(f'{dataset_root}/{name}') for name in table['img_name']]
        return cls(list(table['img_name']), list(table['photo']), table['mos'].to_numpy(), images)


@dataclass
class StageResult:
    label: str
    scores: np.ndarray
    srcc: float
    plcc: float


def chunks(held_out):
    """Index lists of at most CHUNK images of one size (a photo's images share a size, so they batch)."""
    by_size = {}
    for index, image in enumerate(held_out.images):
        by_size.setdefault(image.size, []).append(index)
    return [group[start:start + CHUNK] for group in by_size.values() for start in range(0, len(group), CHUNK)]


def frozen_features(net, held_out, progress=True):
    """The frozen tower's features of every held-out image ([V, D] each) under ``net``'s eval crops:
    scorers that share a backbone and crops (zero-shot and adapter) reuse them instead of re-encoding."""
    net.eval()
    features = [None] * len(held_out.images)
    with torch.no_grad():
        for chunk in tqdm(chunks(held_out), desc='encoding held-out images', unit='batch', leave=False,
                          disable=not progress):
            batch = net.frozen_features(torch.stack([image_to_tensor(held_out.images[i]) for i in chunk]))
            for index, row in zip(chunk, batch):
                features[index] = row
    return features


def evaluate(label, net, held_out, features=None, progress=True):
    """Score every held-out image with ``net`` (eval mode: its test-time crops), from ``features``
    when given (``frozen_features`` of the same backbone and crops), and correlate with MOS."""
    net.eval()
    scores = np.empty(len(held_out.images))
    with torch.no_grad():
        for chunk in tqdm(chunks(held_out), desc=f'scoring held-out images: {label}', unit='batch', leave=False,
                          disable=not progress):
            if features is None:
                batch = net(torch.stack([image_to_tensor(held_out.images[i]) for i in chunk]))
            else:
                batch = net.forward_from_features(torch.stack([features[i] for i in chunk]))
            scores[chunk] = batch.flatten().numpy()
    return StageResult(label, scores, float(stats.spearmanr(scores, held_out.mos)[0]),
                       float(stats.pearsonr(scores, held_out.mos)[0]))


def results_table(results):
    width = max(len(r.label) for r in results)
    lines = [f'  {"":{width}}    SRCC     PLCC']
    lines += [f'  {r.label:{width}}  {r.srcc:7.4f}  {r.plcc:7.4f}' for r in results]
    return '\n'.join(lines)


def timing_table(timings):
    """``timings``: [(stage, seconds, note)]; the note says e.g. that a stage ran beside another."""
    width = max(len(stage) for stage, _, _ in timings)
    return '\n'.join(f'  {stage:{width}}  {seconds:6.1f} s{f"  ({note})" if note else ""}'
                     for stage, seconds, note in timings)


def save_figure(path, results, held_out, title):
    """One scatter of MOS against score per stage, and the held-out SRCC by stage."""
    fig = Figure(figsize=(3.3 * (len(results) + 1), 3.6))  # no pyplot: no GUI backend, no global state
    axes = fig.subplots(1, len(results) + 1)
    for ax, result in zip(axes, results):
        ax.scatter(result.scores, held_out.mos, s=8, alpha=0.6)
        ax.set_title(f'{result.label}\nSRCC {result.srcc:.3f}  PLCC {result.plcc:.3f}', fontsize=9)
        ax.set_xlabel('score')
    axes[0].set_ylabel('MOS (synthetic)')
    bars = axes[-1]
    bars.bar(range(len(results)), [r.srcc for r in results], color='tab:blue')
    bars.set_xticks(range(len(results)), [r.label.replace(', ', ',\n') for r in results], fontsize=7, rotation=30,
                    ha='right')
    bars.axhline(0, color='black', linewidth=0.8)
    bars.set_title('held-out SRCC by stage', fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def reuse_lines(metric_options):
    """The Python and command lines that score new images with what the demo trained."""
    python = ', '.join(f'{key}={value!r}' for key, value in metric_options.items())
    command = ','.join(f'{key}={value}' for key, value in metric_options.items())
    return [
        'import pyiqa',
        f"metric = pyiqa.create_metric('uniqa-level', {python})",
        "score = metric('photo.jpg')",
        f"pyiqa-uniqa score -m 'uniqa-level:{command}' --images <folder> --out scores.csv",
    ]
