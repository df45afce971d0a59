"""Metric as a loss: make images better by the metric's own judgement, with ``create_metric(name, as_loss=True)``.

    python -m pyiqa_uniqa.apps.scoring.metric_as_loss --out metric_as_loss/
    python -m pyiqa_uniqa.apps.scoring.metric_as_loss -m "uniqa:backbone_weights=/path/UniQA_weight.pt" --out ...

Two uses, on the photos that ship with scikit-image, each degraded with blur and noise:

1. **Pixels**: one degraded photo is optimised directly. The loss is the metric's score (negated
   for a higher-is-better metric) plus ``fidelity`` x the mean squared change from the degraded
   photo; Adam steps on the pixels, clamped to [0, 1].
2. **Network**: a small residual CNN (three 3x3 convolutions; it predicts a correction added to
   its input) is trained on patches of six photos with the metric plus an L1 fidelity term to its
   input, then applied to the two held-out photos, whose score before and after is reported.

``before_after.png`` shows both; ``metric_as_loss.json`` holds the numbers.

What a random-weights metric can and cannot show: the default metric is UniQA with a tiny random
CLIP (all this machine can run offline). With it the run shows that the gradient of the metric
reaches the pixels through pyiqa's wrapper, that an optimiser and a network can raise the score,
and that the gain carries over to photos the network never saw. It cannot show that the images
look better: a random network's "quality" has nothing to do with what people see, so the score
may rise through changes no viewer would call an improvement. With the real weights
(``-m "uniqa:backbone_weights=UniQA_weight.pt"``, or a fine-tuned ATTIQA) the same run is the
papers' use; the fidelity term then keeps the result from drifting into adversarial patterns
that fool the metric, a known risk of optimising any learned metric directly.
"""
import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pyiqa_uniqa.errors import UserError

DEFAULT_METRIC = 'uniqa:model_name=tiny-clip-quickgelu,backbone_weights=random,num_crops=1'
DEGRADATIONS = (('blur', 2), ('noise', 2))
HELD_OUT = ('rocket', 'coffee')


@dataclass
class LossDemoResult:
    metric: str
    pixel_score_before: float
    pixel_score_after: float
    held_out_before: float  # mean score of the held-out degraded photos
    held_out_after: float  # the same after the trained network
    pixel_steps: int
    train_steps: int


class ResidualEnhancer(nn.Module):
    """A small image-to-image network: input + a learned correction (zero at the start)."""

    def __init__(self, width=16):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, 3, 3, padding=1))
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, images):
        return (images + self.body(images)).clamp(0, 1)


def degraded_photos(size=128):
    """``{name: (clean, degraded)}`` tensors [3, H, W] of the scikit-image photos, short side ``size``."""
    from PIL import Image

    from pyiqa_uniqa.data.distortions import apply_distortion
    from pyiqa_uniqa.data.photos import load_photos

    photos = {}
    for name, array in load_photos():
        image = Image.fromarray(array)
        image = image.resize((round(image.width * size / min(image.size)), round(image.height * size / min(image.size))),
                             Image.BICUBIC)
        clean = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255
        degraded = clean
        for distortion, level in DEGRADATIONS:
            degraded = apply_distortion(degraded, distortion, level, seed=0)
        photos[name] = (clean, degraded)
    return photos


def score_of(metric, images):
    """The metric's scores [B] for images [B, 3, H, W] (what create_metric returns, no gradient)."""
    with torch.no_grad():
        return metric.net(images).reshape(-1)


def quality_loss(metric, images):
    """``create_metric(..., as_loss=True)`` gives the batch-mean score; lower loss = better image."""
    score = metric(images)
    return score if metric.lower_better else -score


def improve_pixels(metric, degraded, steps=40, lr=0.01, fidelity=1.0):
    """Optimise the pixels of one image [3, H, W]; -> (image, score before, score after)."""
    start = degraded[None]
    pixels = start.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([pixels], lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = quality_loss(metric, pixels) + fidelity * (pixels - start).pow(2).mean()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            pixels.clamp_(0, 1)
    result = pixels.detach()
    return result[0], float(score_of(metric, start)), float(score_of(metric, result))


def random_patches(images, count, size, generator):
    picks = []
    for _ in range(count):
        image = images[int(torch.randint(len(images), (1,), generator=generator))]
        top = int(torch.randint(image.shape[1] - size + 1, (1,), generator=generator))
        left = int(torch.randint(image.shape[2] - size + 1, (1,), generator=generator))
        picks.append(image[:, top:top + size, left:left + size])
    return torch.stack(picks)


def train_enhancer(metric, train_images, steps=60, batch=4, patch=96, lr=1e-3, fidelity=1.0, seed=0):
    """Train ``ResidualEnhancer`` with the metric + L1 fidelity to its input; -> the network."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        network = ResidualEnhancer().to(train_images[0].device)
    optimiser = torch.optim.Adam(network.parameters(), lr=lr)
    for _ in range(steps):
        inputs = random_patches(train_images, batch, patch, generator)
        outputs = network(inputs)
        loss = quality_loss(metric, outputs) + fidelity * (outputs - inputs).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return network.eval()


def _figure(rows, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 2, figsize=(6.4, 3.2 * len(rows)), dpi=110, squeeze=False)
    for (left, right), ax_row in zip(rows, axes):
        for (title, image), ax in zip((left, right), ax_row):
            ax.imshow(image.permute(1, 2, 0).clamp(0, 1).cpu().numpy())
            ax.set_title(title, fontsize=8)
            ax.axis('off')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


class NoGradientError(UserError):
    """The metric's score does not change with the pixels (no gradient reaches them): it cannot be a loss."""


def check_gradient(metric, image, label):
    """Refuse a metric whose gradient does not reach the pixels (pyiqa's piqe: thresholds and block masks,
    zero everywhere): one step on ``image`` [3, H, W] before any optimisation is spent on it."""
    probe = image[None].clone().requires_grad_(True)
    loss = quality_loss(metric, probe)
    if loss.requires_grad:
        loss.backward()
    if probe.grad is None or not bool(probe.grad.abs().max() > 0):
        raise NoGradientError(f'-m {label}: the metric gives no gradient to the pixels (its score does not change '
                              'with small changes of the image), so it cannot be used as a loss; choose a '
                              'learned metric such as uniqa, attiqa or lpips.')


def run_demo(metric_spec=DEFAULT_METRIC, out=None, pixel_steps=40, train_steps=60, device='cpu', progress=True):
    """Both uses on the bundled photos; -> ``LossDemoResult`` (and the figure/JSON in ``out``)."""
    import pyiqa

    from pyiqa_uniqa.apps.metrics.metric_checks import check_device, check_metric_options
    from pyiqa_uniqa.apps.metrics.metric_specs import check_metric_names, parse_metric_specs

    if pixel_steps < 1 or train_steps < 1:
        raise UserError(f'--pixel-steps and --train-steps must be >= 1, not {pixel_steps} and {train_steps}.')
    specs = parse_metric_specs([metric_spec])
    check_metric_names(specs)
    check_metric_options(specs)
    check_device(device)
    spec = specs[0]
    metric = pyiqa.create_metric(spec.name, as_loss=True, device=device, **spec.options)
    photos = degraded_photos()
    name = 'astronaut'
    check_gradient(metric, photos[name][1].to(device), spec.label)
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if progress else (lambda text: None)
    say(f'metric as loss: optimising the pixels of the degraded {name} ({pixel_steps} steps) ...')
    improved, before, after = improve_pixels(metric, photos[name][1].to(device), pixel_steps)
    say(f'  {spec.label}: {before:.4f} -> {after:.4f}')
    train = [degraded.to(device) for photo, (_, degraded) in photos.items() if photo not in HELD_OUT]
    say(f'metric as loss: training an enhancement network on {len(train)} photos ({train_steps} steps) ...')
    network = train_enhancer(metric, train, train_steps)
    held_before, held_after, held_images = [], [], []
    for photo in HELD_OUT:
        degraded = photos[photo][1][None].to(device)
        with torch.no_grad():
            enhanced = network(degraded)
        held_before.append(float(score_of(metric, degraded)))
        held_after.append(float(score_of(metric, enhanced)))
        held_images.append((photo, degraded[0], enhanced[0]))
    result = LossDemoResult(spec.label, before, after, float(np.mean(held_before)), float(np.mean(held_after)),
                            pixel_steps, train_steps)
    say(f'  held-out photos ({", ".join(HELD_OUT)}): {result.held_out_before:.4f} -> {result.held_out_after:.4f}')
    if out:
        from pyiqa_uniqa.files import atomic_write

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        rows = [((f'{name}, degraded: {before:.4f}', photos[name][1]), (f'pixels optimised: {after:.4f}', improved))]
        rows += [((f'{photo} (held out), degraded: {b:.4f}', d), (f'enhancement network: {a:.4f}', e))
                 for (photo, d, e), b, a in zip(held_images, held_before, held_after)]
        _figure(rows, out / 'before_after.png')
        with atomic_write(out / 'metric_as_loss.json', 'w', encoding='utf-8') as f:
            json.dump(asdict(result), f, indent=1)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m pyiqa_uniqa.apps.scoring.metric_as_loss', description=__doc__.split('\n')[0])
    parser.add_argument('-m', '--metric', default=DEFAULT_METRIC, help=f'metric spec (default {DEFAULT_METRIC})')
    parser.add_argument('--out', default='metric_as_loss', help='folder for before_after.png and the numbers')
    parser.add_argument('--pixel-steps', type=int, default=40)
    parser.add_argument('--train-steps', type=int, default=60)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    try:
        result = run_demo(args.metric, args.out, args.pixel_steps, args.train_steps, args.device)
    except UserError as err:
        parser.exit(2, f'{parser.prog}: error: {err}\n')
    print(json.dumps(asdict(result), indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
