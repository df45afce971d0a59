"""What the demo reports: held-out scores per stage, the tables, the figure and the reuse lines.

The held-out photos are the dataset's ``test`` split: whole photos that no stage reads, neither for
training nor for choosing a checkpoint (those use ``train`` and ``val``). Every scorer sees the same
images in the same order, and the scores are deterministic (seeded crops), so two runs print the
same results table.

Correlations are oriented so that higher is better for every scorer: a lower-is-better metric (the
classical baseline, piqe) is correlated with its negated score. Per distortion, a photo's pristine
version and its five levels of that distortion are ranked together (6 images per held-out photo).
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from scipy import stats
from tqdm import tqdm

from pyiqa_uniqa.data.images import image_to_tensor, read_image

PRISTINE = 'pristine'  # the distortion column of the undistorted photos
CHUNK = 8  # images per forward: the official ViT-B/16 on 5 crops of 8 images stays within a few GB


@dataclass
class HeldOut:
    names: list
    photos: list  # source photo of each image
    mos: np.ndarray
    images: list  # 8-bit PIL images (a quarter of the memory of tensors), converted per chunk
    distortions: list  # of each image; 'pristine' for the undistorted photos

    @classmethod
    def read(cls, dataset_root):
        table = pd.read_csv(f'{dataset_root}/meta_info.csv')
        table = table[table['split'] == 'test']
        images = [read_image(f'{dataset_root}/{name}') for name in table['img_name']]
        return cls(list(table['img_name']), list(table['photo']), table['mos'].to_numpy(), images,
                   list(table['distortion']))

    def distortion_groups(self):
        """{distortion: indices of its images and of the pristine photos}, in the dataset's order."""
        pristine = [i for i, name in enumerate(self.distortions) if name == PRISTINE]
        names = dict.fromkeys(name for name in self.distortions if name != PRISTINE)
        return {name: sorted(pristine + [i for i, d in enumerate(self.distortions) if d == name]) for name in names}


@dataclass
class StageResult:
    label: str
    scores: np.ndarray  # as the scorer gives them (lower is better for a lower-is-better metric)
    srcc: float  # oriented: higher is better for every scorer
    plcc: float
    srcc_by_distortion: dict
    lower_better: bool


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


def evaluate(label, net, held_out, features=None, progress=True, lower_better=False):
    """Score every held-out image with ``net`` (eval mode: its test-time crops), from ``features``
    when given (``frozen_features`` of the same backbone and crops), and correlate with MOS, overall
    and per distortion (negated scores for a ``lower_better`` scorer)."""
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
    oriented = -scores if lower_better else scores
    by_distortion = {name: float(stats.spearmanr(oriented[group], held_out.mos[group])[0])
                     for name, group in held_out.distortion_groups().items()}
    return StageResult(label, scores, float(stats.spearmanr(oriented, held_out.mos)[0]),
                       float(stats.pearsonr(oriented, held_out.mos)[0]), by_distortion, lower_better)


def results_table(results):
    width = max(len(r.label) for r in results)
    lines = [f'  {"":{width}}    SRCC     PLCC']
    lines += [f'  {r.label:{width}}  {r.srcc:7.4f}  {r.plcc:7.4f}' for r in results]
    return '\n'.join(lines)


def distortion_table(results):
    """Held-out SRCC per distortion (columns) for each scorer (rows)."""
    width = max(len(r.label) for r in results)
    names = list(results[0].srcc_by_distortion)
    lines = [f'  {"":{width}}  ' + '  '.join(f'{name:>{max(len(name), 6)}}' for name in names)]
    lines += [f'  {r.label:{width}}  ' + '  '.join(f'{r.srcc_by_distortion[name]:{max(len(name), 6)}.3f}'
                                                  for name in names) for r in results]
    return '\n'.join(lines)


def timing_table(timings):
    """``timings``: [(stage, seconds, note)]; the note says e.g. that a stage ran beside another."""
    width = max(len(stage) for stage, _, _ in timings)
    return '\n'.join(f'  {stage:{width}}  {seconds:6.1f} s{f"  ({note})" if note else ""}'
                     for stage, seconds, note in timings)


def save_figure(path, results, held_out, title, compared):
    """A scatter of MOS against score per scorer (top); the held-out SRCC by scorer and, per distortion,
    the SRCC of the ``compared`` results (bottom)."""
    fig = Figure(figsize=(2.6 * len(results), 7.4))  # no pyplot: no GUI backend, no global state
    grid = fig.add_gridspec(2, 2 * len(results))
    for column, result in enumerate(results):
        ax = fig.add_subplot(grid[0, 2 * column:2 * column + 2])
        ax.scatter(result.scores, held_out.mos, s=8, alpha=0.6)
        ax.set_title(f'{result.label.replace(" (", chr(10) + "(")}\nSRCC {result.srcc:.3f}  PLCC {result.plcc:.3f}',
                     fontsize=8)
        ax.set_xlabel('score (lower is better)' if result.lower_better else 'score')
        if column == 0:
            ax.set_ylabel('MOS (synthetic)')
    bars = fig.add_subplot(grid[1, :len(results)])
    bars.bar(range(len(results)), [r.srcc for r in results], color='tab:blue')
    bars.set_xticks(range(len(results)), [r.label.replace(', ', ',\n') for r in results], fontsize=6, rotation=30,
                    ha='right')
    bars.axhline(0, color='black', linewidth=0.8)
    bars.set_title('held-out SRCC by scorer', fontsize=9)
    per_distortion = fig.add_subplot(grid[1, len(results):])
    names = list(compared[0].srcc_by_distortion)
    width = 0.8 / len(compared)
    for index, result in enumerate(compared):
        per_distortion.bar(np.arange(len(names)) + (index - (len(compared) - 1) / 2) * width,
                           [result.srcc_by_distortion[name] for name in names], width, label=result.label)
    per_distortion.set_xticks(range(len(names)), names, fontsize=7, rotation=30, ha='right')
    per_distortion.axhline(0, color='black', linewidth=0.8)
    per_distortion.legend(fontsize=7)
    per_distortion.set_title('held-out SRCC per distortion (with the pristine photos)', fontsize=9)
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
