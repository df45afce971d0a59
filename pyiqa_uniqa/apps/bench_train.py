"""``pyiqa-uniqa bench-train``: what the frozen-feature cache saves in a training run, measured.

Runs a recipe (default: the UniQA demo, ``pyiqa_uniqa/apps/uniqa_demo/demo.yml``) through the train
command's own pipeline (``training.measurement.run_recipe``) with ``val.feature_cache`` off and on (and the other variants asked for), the same seed, data order and iterations, and prints for
each variant the wall time, the images (crops included) that went through the frozen tower, and the
validation metrics after every pass, side by side. Each run is a fresh process (nothing warmed up by
an earlier run), and the variants take turns for ``--rounds`` rounds (off, on, off, on, ...); times are
medians with the range of the rounds, and "relative to the first run" is the median of the per-round
ratios, each taken between runs that ran one after the other. Validation has the shape of the official UniQA
KonIQ recipe: 10 passes (``--val-passes``) encoding 1.25 crops per training forward
(``--val-ratio``) in all, on as many of the recipe's validation images as that takes. Torch runs
on one thread, so its CPU time is the run's compute whatever else the machine runs; wall time is
printed too.
"""
import itertools
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
    parser.add_argument('--rounds', type=int, default=3,
                        help='rounds of the variants, taking turns, each run in a fresh process (default 3)')


def run(args):
    from pyiqa_uniqa.errors import UserError

    if args.rounds < 1:
        raise UserError(f'--rounds must be >= 1, not {args.rounds}.')
    from pyiqa_uniqa.apps.bench.speed.alternate import alternate
    from pyiqa_uniqa.training.measurement import benchmark_plan

    plans = [('fp32, cache off', 'fp32', False, 0), ('fp32, cache on', 'fp32', True, 0)]
    plans += [(f'{precision}, cache on', precision, True, 0) for precision in args.precision]
    if args.feature_reuse:
        plans.append((f'fp32, cache on, reuse {args.feature_reuse}', 'fp32', True, args.feature_reuse))
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(args.workdir or scratch)
        overrides, opt, plan = benchmark_plan(args.recipe, workdir, args.epochs, args.val_ratio, args.val_passes,
                                              args.force_yml)
        print(plan + f'; torch threads: 1; {args.rounds} round(s), each run in a fresh process', flush=True)
        run_numbers = itertools.count()

        def train(variant):
            label, precision, cache, reuse = variant
            settings = [f'train:precision={precision}', f'train:feature_reuse_views={reuse}',
                        f'val:feature_cache={cache}']
            result = train_in_fresh_process(args.recipe, workdir / f'run_{next(run_numbers)}',
                                            overrides + settings, label, opt)
            print(f'  {result.wall_s:.1f} s ({result.cpu_s:.1f} s of CPU)', flush=True)
            return result

        rounds = alternate(plans, args.rounds, train,
                           announce=lambda number, variant: print(f'round {number + 1}, {variant[0]}:', flush=True))
    print(report([rounds[variant] for variant in plans]))
    return 0


def train_in_fresh_process(recipe, root, overrides, label, opt):
    """``measurement.run_recipe`` in a new interpreter (spawned: no state shared with earlier runs)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn')) as pool:
        return pool.submit(_train, recipe, root, overrides, label, opt).result()


def _train(recipe, root, overrides, label, opt):
    import torch

    from pyiqa_uniqa.training.measurement import held_out_loader, run_recipe

    torch.set_num_threads(1)  # its CPU time is then the run's compute, whatever else the machine runs
    return run_recipe(recipe, root, overrides, label, progress=print_last_validation, held_out=held_out_loader(opt))


def print_last_validation(run):
    iteration, metrics = run.validations[-1]
    print(f'  iter {iteration}: ' + ', '.join(f'{name} {value:.4f}' for name, value in metrics.items()), flush=True)


def report(rounds):
    """The variants side by side (``rounds``: each variant's runs, one per round, variants in plan order):
    times as median (lowest–highest), ratios to the first variant per round; scores from the first round,
    and how far later rounds strayed from them."""
    from pyiqa_uniqa.apps.bench.speed.alternate import spread

    runs = [variant_runs[0] for variant_runs in rounds]
    width = max(26, *(len(run.label) + 2 for run in runs))

    def row(name, values):
        return f'{name:<44}' + ''.join(f'{value:>{width}}' for value in values)

    def timing(name):
        return [spread([getattr(r, name) for r in variant_runs]) for variant_runs in rounds]

    def relative(name):
        return [spread([getattr(r, name) / getattr(f, name) for r, f in zip(variant_runs, rounds[0])])
                for variant_runs in rounds]

    first, reference = runs[0], runs[1]
    lines = ['', row('', [run.label for run in runs]),
             row('wall time (s)', [f'{t:.1f}' for t in timing('wall_s')]),
             row('  relative to the first run', [f'{t:.2f}' for t in relative('wall_s')]),
             row('CPU time (s)', [f'{t:.1f}' for t in timing('cpu_s')]),
             row('  relative to the first run', [f'{t:.2f}' for t in relative('cpu_s')])]
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
    if len(rounds[0]) > 1:
        lines.append(row('  over the rounds: max |score - round 1|',
                         [f'{max(largest_difference(r, v[0]) for r in v[1:]):.3g}' for v in rounds]))
    lines += ['', f'validation passes, round 1 ({first.label} | {reference.label}):']
    for (iteration, off), (_, on) in zip(first.validations, reference.validations):
        pairs = '   '.join(f'{name} {off[name]:.6f} | {on[name]:.6f}' for name in off)
        lines.append(f'  iter {iteration:>5}: {pairs}')
    for run in runs:
        lines += [f'{run.label}: {summary}' for summary in run.summaries]
    return '\n'.join(lines)


def largest_difference(run, reference):
    return max((a - b).abs().max().item() for a, b in zip(run.val_scores, reference.val_scores))
