"""``pyiqa-uniqa bench``: load time, per-image latency, batched throughput and memory per metric.

    pyiqa-uniqa bench -m uniqa attiqa depictqa psnr --images photos/ --device cpu
    pyiqa-uniqa bench -m "uniqa:backbone_weights=random" topiq_nr --threads 1 --repeats 3
    pyiqa-uniqa bench --pipeline -m piqe uniqa --max-images 64     # score against pyiqa's CLI
    pyiqa-uniqa bench --defaults                                    # the table behind score's defaults

Every metric runs on the same images (default: the scikit-image photos that ship with
scikit-image, at their own sizes). Writes ``bench.md`` and ``bench.csv`` into ``--out`` and prints the
table. Metric options work as in ``eval`` (``name:key=value,...`` or ``--metric-opt``).
With ``--pipeline`` it times ``pyiqa-uniqa score`` against pyiqa's own CLI instead (``pipeline.py``);
``--defaults`` prints the thread/reader table that chose ``score``'s defaults and then ``score`` against
pyiqa's CLI with default flags, idle and beside a busy process (``defaults_table.py``; docs/speed.md).
"""
import os
import shlex
import sys
from pathlib import Path

from pyiqa_uniqa.apps.metrics.command_setup import add_metric_arguments
from pyiqa_uniqa.errors import UserError


def add_arguments(parser):
    add_metric_arguments(parser)
    parser.add_argument('--images', metavar='FOLDER',
                        help='folder of images (default: the scikit-image colour photos)')
    parser.add_argument('--max-images', type=int, help='use at most this many images')
    parser.add_argument('--device', help='cpu, cuda, ... (default: cuda when available)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed runs before timing (default 1)')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs per measurement (default 5)')
    parser.add_argument('--batch-size', type=int,
                        help="batch for the throughput figure (default 4; with --pipeline: score's default)")
    parser.add_argument('--size', type=int, default=224, help='square side of the throughput batch (default 224)')
    parser.add_argument('--pipeline', action='store_true',
                        help="time `pyiqa-uniqa score` against pyiqa's CLI on the same folder (images/s), "
                             'and against the frozen image encoder alone')
    parser.add_argument('--num-workers', type=int, help='--pipeline: image-reading processes of score')
    parser.add_argument('--with-load', action='store_true',
                        help='--pipeline: measure again beside one other CPU-bound process')
    parser.add_argument('--defaults', action='store_true',
                        help="the thread/reader table behind score's defaults (default metrics: piqe and a "
                             'random-weight UniQA tower), then --pipeline --with-load on the first metric')
    parser.add_argument('--out', default='bench_results', help='report folder (default ./bench_results)')


def _validate(args):
    for flag in ('warmup', 'repeats', 'batch_size', 'size', 'max_images', 'threads', 'num_workers'):
        value = getattr(args, flag)
        minimum = 0 if flag in ('warmup', 'num_workers') else 1
        if value is not None and value < minimum:
            raise UserError(f'--{flag.replace("_", "-")} must be >= {minimum}')
    if args.metric_opt and not Path(args.metric_opt).is_file():
        raise UserError(f'--metric-opt {args.metric_opt}: no such file')
    if args.defaults and args.pipeline:
        raise UserError('--defaults already runs the pipeline comparison: give one of --defaults and --pipeline')
    if args.defaults and (args.threads or args.num_workers is not None):
        raise UserError('--defaults measures every thread and reader setting itself: drop --threads/--num-workers')
    if args.images and (args.pipeline or args.defaults) and not Path(args.images).is_dir():
        raise UserError(f'--images {args.images}: no such folder')


def command_line(args):
    parts = ['pyiqa-uniqa', 'bench', '-m', *args.metrics]
    for flag in ('metric_opt', 'images', 'max_images', 'device', 'warmup', 'repeats', 'batch_size', 'size',
                 'threads', 'num_workers', 'out'):
        value = getattr(args, flag)
        if value is not None:
            parts += [f'--{flag.replace("_", "-")}', str(value)]
    flags = [f'--{flag.replace("_", "-")}' for flag in ('offline', 'pipeline', 'with_load', 'defaults')
             if getattr(args, flag)]
    return shlex.join(parts + flags)


def run(args):
    from pyiqa_uniqa.apps.outputs import report_folder

    _validate(args)
    with report_folder(args.out):
        return _bench(args)


def _bench(args):
    from pyiqa_uniqa.apps.metrics.command_setup import prepare_metric_command

    if args.defaults and not args.metrics and not args.metric_opt:
        from pyiqa_uniqa.apps.bench.speed.defaults_table import DEFAULT_METRICS
        args.metrics = list(DEFAULT_METRICS)
    specs = prepare_metric_command('bench', args)
    if args.pipeline or args.defaults:
        return _run_pipeline(args, specs)
    import platform

    import torch

    from pyiqa_uniqa.apps.metrics.failures import OK
    from pyiqa_uniqa.apps.bench.speed.images import load_bench_images
    from pyiqa_uniqa.apps.bench.speed.report import write_bench_report
    from pyiqa_uniqa.apps.bench.speed.runner import BenchSettings, measure_metric

    try:
        images, skipped = load_bench_images(args.images, args.max_images)
    except FileNotFoundError as err:
        raise UserError(str(err)) from None
    for line in skipped:
        print(f'bench: skipped {line}', file=sys.stderr)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    settings = BenchSettings(device=device, warmup=args.warmup, repeats=args.repeats,
                             batch_size=args.batch_size or 4, size=args.size)
    sizes = sorted({f'{img.shape[-1]}×{img.shape[-2]}' for _, img in images})
    cpu = platform.processor() or platform.machine()
    context = (f'{len(images)} images ({", ".join(sizes)}) from {args.images or "scikit-image photos"}; '
               f'device {device}'
               + (f' ({torch.cuda.get_device_name(device)})' if device.startswith('cuda') else
                  f' ({cpu}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()})')
               + f'; warm-up {settings.warmup}, repeats {settings.repeats}; torch {torch.__version__}.')
    results = []
    for spec in specs:
        print(f'bench: {spec.label} ...', file=sys.stderr, flush=True)
        results.append(measure_metric(spec, images, settings))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = write_bench_report(results, out_dir, settings, command_line(args), context,
                               gpu=device.startswith('cuda'))
    print(context + '\n\n' + table)
    print(f'Written to {out_dir}/bench.md and bench.csv', file=sys.stderr)
    return 0 if any(r.status == OK for r in results) else 1


def _run_pipeline(args, specs):
    """``--pipeline``: score against pyiqa's CLI and the encoder floor (``pipeline.py``); ``--defaults``:
    first the thread/reader table (``defaults_table.py``), then the pipeline on the first metric."""
    import dataclasses
    import math
    import tempfile

    import torch

    from pyiqa_uniqa.apps.bench.speed.defaults_table import defaults_table, measure_defaults
    from pyiqa_uniqa.apps.bench.speed.pipeline import (
        PipelineSettings,
        measure_pipeline,
        write_photo_folder,
        write_pipeline_report,
    )
    from pyiqa_uniqa.apps.run_defaults import usable_cores
    from pyiqa_uniqa.apps.scoring.inputs import find_images

    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    settings = PipelineSettings(device=device, threads=args.threads, batch_size=args.batch_size,
                                num_workers=args.num_workers, metric_opt=args.metric_opt, repeats=args.repeats)
    texts = args.metrics or [spec.label for spec in specs]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        default_count = 32 if args.defaults else 64
        folder = (Path(args.images) if args.images else
                  write_photo_folder(Path(work) / 'photos', args.max_images or default_count))
        count = len(find_images(folder).rows)
        threads = 'default flags' if args.threads is None else f'torch threads {args.threads} in both commands'
        context = (f'{count} images from {args.images or "the scikit-image photos (JPEG, mixed sizes)"}; device '
                   f'{device}; {usable_cores()} usable cores ({os.cpu_count()} logical); {threads}; '
                   f'{args.repeats} rounds; load average at the start {_load()}; torch {torch.__version__}.')
        printed = [context, '']
        if args.defaults:
            rows = measure_defaults(specs, texts, folder, count, device, usable_cores(), args.repeats)
            table = defaults_table(rows)
            (out_dir / 'bench_defaults.md').write_text(
                f'# score\'s defaults: threads and readers\n\nCommand: `{command_line(args)}`\n\n{context}\n\n'
                f'{table}', encoding='utf-8')
            printed += [table, f'load average after the table {_load()}', '']
            specs, texts = specs[:1], texts[:1]
        results = measure_pipeline(specs, texts, folder, settings)
        if args.with_load or args.defaults:
            results += measure_pipeline(specs, texts, folder, dataclasses.replace(settings, neighbour=True))
    table = write_pipeline_report(results, out_dir, command_line(args), context)
    printed += [table, f'load average at the end {_load()}']
    print('\n'.join(printed))
    print(f'Written to {out_dir}/', file=sys.stderr)
    return 0 if any(not math.isnan(r.score.median) for r in results) else 1


def _load():
    """The 1-, 5- and 15-minute load averages, as `uptime` prints them."""
    return ', '.join(f'{v:.2f}' for v in os.getloadavg()) if hasattr(os, 'getloadavg') else 'unknown'
