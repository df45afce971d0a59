"""``pyiqa-uniqa eval``: correlation tables of metrics against MOS, on pyiqa's datasets or your own.

    pyiqa-uniqa eval -m uniqa topiq_nr -d koniq10k livec spaq --out results/
    pyiqa-uniqa eval -m uniqa --data-opt my_datasets.yml --split-file koniq_10split.pkl --split-index all
    pyiqa-uniqa eval -m psnr "uniqa:model_name=tiny-clip-quickgelu,backbone_weights=tiny.pt" -d photos-fr

Writes ``results.md``, ``results.csv``, ``results_per_split.csv``, ``plots/`` and ``scores/`` (per-image
scores, which also let an interrupted run resume) into ``--out``. Exit status 1 when no cell could
be computed, 0 otherwise (cells that could not run are listed in the report).
"""
import shlex
import sys
from pathlib import Path

from pyiqa_uniqa.apps.metrics.command_setup import add_metric_arguments
from pyiqa_uniqa.errors import UserError


def add_arguments(parser):
    add_metric_arguments(parser)
    parser.add_argument('-d', '--datasets', nargs='+', default=[], metavar='DATASET',
                        help="dataset names: pyiqa's (koniq10k, livec, spaq, csiq, kadid10k, ...), "
                             'photos-nr / photos-fr (offline scikit-image photos), or --data-opt entries')
    parser.add_argument('--data-opt', metavar='YAML',
                        help='pyiqa dataset options: {name: {type, dataroot_target, meta_info_file, ...}}, '
                             "one such mapping, or a pyiqa options file's datasets: section")
    parser.add_argument('--data-root', default='./datasets',
                        help="where pyiqa's datasets live (default ./datasets, as pyiqa.load_dataset)")
    parser.add_argument('--download', action='store_true',
                        help="download missing pyiqa datasets with pyiqa.load_dataset (Hugging Face)")
    parser.add_argument('--split-file', metavar='PKL', help='pyiqa split pickle {index: {train/val/test: rows}}')
    parser.add_argument('--split-index', metavar='N|COLUMN|all',
                        help="split key of the pickle (default 1), a meta-info split column / number, "
                             "or 'all' for every split (mean ± std)")
    parser.add_argument('--phase', choices=('train', 'val', 'test'),
                        help="part of each split to evaluate (default: the dataset's phase, else test)")
    parser.add_argument('--out', default='results', help='report folder (default ./results)')
    parser.add_argument('--device', help='cpu, cuda, cuda:1, ... (default: cuda when available)')
    parser.add_argument('--batch-size', type=int,
                        help="images per forward pass (default: by the metric's kind and the device, docs/speed.md)")
    parser.add_argument('--num-workers', type=int,
                        help="image-reading processes (default: by the metric's kind and the free cores)")
    parser.add_argument('--no-resume', action='store_true', help='rescore even what scores/ already holds')
    parser.add_argument('--no-plots', action='store_true')
    parser.add_argument('--references', metavar='CSV',
                        help="published numbers to show beside ours (default: the shipped table)")


def command_line(args):
    """The command that reproduces this run, for the report header."""
    parts = ['pyiqa-uniqa', 'eval']
    if args.metrics:
        parts += ['-m', *args.metrics]
    if args.datasets:
        parts += ['-d', *args.datasets]
    for flag in ('metric_opt', 'data_opt', 'data_root', 'split_file', 'split_index', 'phase', 'out', 'device',
                 'batch_size', 'threads', 'references'):
        value = getattr(args, flag)
        if value is not None:
            parts += [f'--{flag.replace("_", "-")}', str(value)]
    parts += [f'--{flag.replace("_", "-")}' for flag in ('download', 'offline', 'no_resume') if getattr(args, flag)]
    return shlex.join(parts)


def _validate(args):
    if args.batch_size is not None and args.batch_size < 1:
        raise UserError('--batch-size must be >= 1')
    if args.num_workers is not None and args.num_workers < 0:
        raise UserError('--num-workers must be >= 0')
    for flag in ('metric_opt', 'data_opt', 'split_file', 'references'):
        path = getattr(args, flag)
        if path and not Path(path).is_file():
            raise UserError(f'--{flag.replace("_", "-")} {path}: no such file')


def run(args):
    from pyiqa_uniqa.apps.outputs import report_folder

    _validate(args)
    with report_folder(args.out):
        return _evaluate(args)


def _evaluate(args):
    from pyiqa_uniqa.apps.metrics.command_setup import prepare_metric_command

    metric_specs = prepare_metric_command('eval', args)
    import torch

    from pyiqa_uniqa.apps.bench.eval.datasets import resolve_datasets
    from pyiqa_uniqa.apps.bench.eval.plots import write_plots
    from pyiqa_uniqa.apps.bench.eval.references import DEFAULT_REFERENCES, load_references
    from pyiqa_uniqa.apps.bench.eval.report import markdown_report, write_tables
    from pyiqa_uniqa.apps.bench.eval.runner import EvalSettings, evaluate
    from pyiqa_uniqa.apps.metrics.failures import OK

    dataset_specs = resolve_datasets(args.datasets, args.data_opt, args.data_root)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = EvalSettings(out_dir=out_dir, device=device, batch_size=args.batch_size,
                            num_workers=args.num_workers, threads=args.threads, data_root=args.data_root,
                            download=args.download, split_file=args.split_file, split_index=args.split_index, phase=args.phase,
                            resume=not args.no_resume)
    import pyiqa
    command = command_line(args)
    context = f'pyiqa {pyiqa.__version__}, torch {torch.__version__}, device {device}.'
    done = []

    said = set()  # each problem is printed in full once; later cells name it only

    def report_cell(result):
        done.append(result)
        line = f'[{len(done)}/{len(metric_specs) * len(dataset_specs)}] {result.metric} on {result.dataset}: '
        if result.status == OK:
            line += f"SRCC {result.summary['srcc'].format()}, PLCC {result.summary['plcc'].format()}"
        parts = []
        for subject, status, message in result.problems:
            parts.append(f'{status} ({subject}, see above)' if (subject, status, message) in said
                         else f'{status}: {message}')
            said.add((subject, status, message))
        print(line + '; '.join(parts), file=sys.stderr, flush=True)
        write_tables(done, out_dir, command, context)

    results = evaluate(metric_specs, dataset_specs, settings,
                       load_references(args.references or DEFAULT_REFERENCES), on_cell=report_cell)
    write_tables(results, out_dir, command, context)
    if not args.no_plots:
        write_plots(results, out_dir)
    print(markdown_report(results, command, context))
    print(f'Report written to {out_dir}/ (results.md, results.csv, results_per_split.csv'
          f'{", plots/" if not args.no_plots else ""}, scores/)', file=sys.stderr)
    return 0 if any(r.status == OK for r in results) else 1
