"""``pyiqa-uniqa bench-train``: what the frozen-feature cache saves in a training run, measured.

Runs a recipe (default: the UniQA demo, ``pyiqa_uniqa/uniqa/demo.yml``) twice in this process,
with ``val.feature_cache`` off and on, the same seed, data order and iterations, and prints for
each run the wall time, the images (crops included) that went through the frozen tower, and the
validation metrics after every pass, side by side. Validation runs as often, relative to
training, as in the official UniQA KonIQ recipe (``--val-ratio``: 1.25 validation crop forwards
per training forward). Torch runs on one thread, so figures compare across machine loads.
"""
import tempfile
from pathlib import Path

DEMO_RECIPE = Path(__file__).parents[1] / 'uniqa' / 'demo.yml'


def add_arguments(parser):
    parser.add_argument('-opt', '--recipe', default=str(DEMO_RECIPE),
                        help='training recipe (default: the UniQA demo, a random tiny CLIP on the photo dataset)')
    parser.add_argument('--workdir', default=None,
                        help='folder for the dataset (reused when built) and checkpoints (default: a temporary one)')
    parser.add_argument('--epochs', type=int, default=None, help="training epochs (default: the recipe's)")
    parser.add_argument('--val-ratio', type=float, default=1.25,
                        help='validation crop forwards per training forward (default 1.25, the official '
                             'UniQA KonIQ recipe); sets how often validation runs')
    parser.add_argument('--model-name', default=None,
                        help="the network's model_name (e.g. ViT-B-16-quickgelu for the real geometry, random weights)")


def run(args):
    import torch

    from pyiqa_uniqa.training.recipe_runner import benchmark_options, run_training

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as scratch:
        opt, val_freq, plan = benchmark_options(args.recipe, Path(args.workdir or scratch), args.epochs,
                                                args.val_ratio, args.model_name)
        print(plan + '; torch threads: 1', flush=True)
        runs = []
        for cache in (False, True):
            runs.append(run_training(opt, cache, val_freq, progress=print_last_validation))
            print(f'  run with val.feature_cache {str(cache).lower()}: {runs[-1].wall_s:.1f} s', flush=True)
    print(report(runs))
    return 0


def print_last_validation(run):
    iteration, metrics = run.validations[-1]
    print(f'    iter {iteration}: ' + ', '.join(f'{name} {value:.4f}' for name, value in metrics.items()), flush=True)


def report(runs):
    off, on = runs
    lines = ['', f'{"":34}{"cache off":>14}{"cache on":>14}{"on / off":>10}',
             f'{"wall time (s)":34}{off.wall_s:>14.1f}{on.wall_s:>14.1f}{on.wall_s / off.wall_s:>10.2f}']
    for phase in ('train', 'val'):
        a, b = off.tower_images[phase], on.tower_images[phase]
        lines.append(f'{f"frozen-tower images, {phase}":34}{a:>14}{b:>14}{(b / a if a else 0):>10.2f}')
    lines.append('')
    lines.append('validation (cache off | cache on):')
    for (iteration, first), (_, second) in zip(off.validations, on.validations):
        pairs = '   '.join(f'{name} {first[name]:.6f} | {second[name]:.6f}' for name in first)
        lines.append(f'  iter {iteration:>5}: {pairs}')
    difference = max((a - b).abs().max().item() for a, b in zip(off.val_scores, on.val_scores))
    lines.append(f'largest difference of any validation score between the runs: {difference:.3g}')
    if on.cache_summary:
        lines.append(on.cache_summary)
    return '\n'.join(lines)
