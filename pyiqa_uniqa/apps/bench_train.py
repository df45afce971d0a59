"""``pyiqa-uniqa bench-train``: what the frozen-feature cache saves in a training run, measured.

Runs a recipe (default: the UniQA demo, ``pyiqa_uniqa/apps/uniqa_demo/demo.yml``) twice in this process
through the train command's own pipeline (``training.measurement.run_recipe``),
with ``val.feature_cache`` off and on, the same seed, data order and iterations, and prints for
each run the wall time, the images (crops included) that went through the frozen tower, and the
validation metrics after every pass, side by side. Validation has the shape of the official UniQA
KonIQ recipe: 10 passes (``--val-passes``) encoding 1.25 crops per training forward
(``--val-ratio``) in all, on as many of the recipe's validation images as that takes. Torch runs
on one thread, so its CPU time is the run's compute whatever else the machine runs; wall time is
printed too.
"""
import tempfile
from pathlib import Path

DEMO_RECIPE = Path(__file__).with_name('uniqa_demo') / 'demo.yml'


def add_arguments(parser):
    parser.add_argument('-opt', '--recipe', default=str(DEMO_RECIPE),
                        help='training recipe (default: the UniQA demo, a random tiny CLIP on the photo dataset)')
    parser.add_argument('--workdir', default=None,
                        help='folder for the dataset (reused when built) and checkpoints (default: a temporary one)')
    parser.add_argument('--epochs', type=int, default=None, help="training epochs (default: the recipe's)")
    parser.add_argument('--val-ratio', type=float, default=1.25,
                        help='validation crop forwards per training forward (default 1.25, the official '
                             'UniQA KonIQ recipe)')
    parser.add_argument('--val-passes', type=int, default=10,
                        help='validation passes (default 10, as the official recipe); the validation set is '
                             'cut to the images that this many passes at --val-ratio take')
    parser.add_argument('--force_yml', nargs='+', default=None, metavar='SECTION:KEY=VALUE',
                        help='override recipe options, as the train command does, e.g. '
                             'network:model_name=ViT-B-16-quickgelu (the real geometry, random weights)')
    parser.add_argument('--precision', nargs='+', default=[], choices=('fp16', 'bf16'),
                        help='also train at these precisions (train.precision; with the cache)')
    parser.add_argument('--feature-reuse', type=int, default=0, metavar='K',
                        help='also train with train.feature_reuse_views K (with the cache)')


def run(args):
    import torch

    from pyiqa_uniqa.training.measurement import benchmark_plan, held_out_loader, run_recipe

    torch.set_num_threads(1)
    plans = [('fp32, cache off', 'fp32', False, 0), ('fp32, cache on', 'fp32', True, 0)]
    plans += [(f'{precision}, cache on', precision, True, 0) for precision in args.precision]
    if args.feature_reuse:
        plans.append((f'fp32, cache on, reuse {args.feature_reuse}', 'fp32', True, args.feature_reuse))
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(args.workdir or scratch)
        overrides, opt, plan = benchmark_plan(args.recipe, workdir, args.epochs, args.val_ratio, args.val_passes,
                                              args.force_yml)
        held_out = held_out_loader(opt)
        print(plan + '; torch threads: 1', flush=True)
        runs = []
        for number, (label, precision, cache, reuse) in enumerate(plans):
            print(f'{label}:', flush=True)
            settings = [f'train:precision={precision}', f'train:feature_reuse_views={reuse}',
                        f'val:feature_cache={cache}']
            runs.append(run_recipe(args.recipe, workdir / f'run_{number}', overrides + settings, label,
                                   progress=print_last_validation, held_out=held_out))
            print(f'  {runs[-1].wall_s:.1f} s ({runs[-1].cpu_s:.1f} s of CPU)', flush=True)
    print(report(runs))
    return 0


def print_last_validation(run):
    iteration, metrics = run.validations[-1]
    print(f'  iter {iteration}: ' + ', '.join(f'{name} {value:.4f}' for name, value in metrics.items()), flush=True)


def report(runs):
    """The runs side by side; the first two (cache off, cache on) also per validation pass."""
    width = max(18, *(len(run.label) + 2 for run in runs))

    def row(name, values):
        return f'{name:<44}' + ''.join(f'{value:>{width}}' for value in values)

    first, reference = runs[0], runs[1]
    lines = ['', row('', [run.label for run in runs]),
             row('wall time (s)', [f'{run.wall_s:.1f}' for run in runs]),
             row('  relative to the first run', [f'{run.wall_s / first.wall_s:.2f}' for run in runs]),
             row('CPU time (s)', [f'{run.cpu_s:.1f}' for run in runs]),
             row('  relative to the first run', [f'{run.cpu_s / first.cpu_s:.2f}' for run in runs])]
    for phase in ('train', 'val'):
        lines.append(row(f'frozen-tower images, {phase}', [run.tower_images[phase] for run in runs]))
    metrics = list(first.validations[-1][1])
    for name in metrics:
        lines.append(row(f'last validation {name}', [f'{run.validations[-1][1][name]:.6f}' for run in runs]))
    if first.held_out:
        for name in metrics:
            held_out = [f'{run.held_out[name]:.6f}' for run in runs]
            lines.append(row(f'held-out test split {name} (last weights)', held_out))
    lines.append(row(f'max |validation score - "{reference.label}"|',
                     [f'{largest_difference(run, reference):.3g}' for run in runs]))
    lines += ['', f'validation passes ({first.label} | {reference.label}):']
    for (iteration, off), (_, on) in zip(first.validations, reference.validations):
        pairs = '   '.join(f'{name} {off[name]:.6f} | {on[name]:.6f}' for name in off)
        lines.append(f'  iter {iteration:>5}: {pairs}')
    for run in runs:
        lines += [f'{run.label}: {summary}' for summary in run.summaries]
    return '\n'.join(lines)


def largest_difference(run, reference):
    return max((a - b).abs().max().item() for a, b in zip(run.val_scores, reference.val_scores))
