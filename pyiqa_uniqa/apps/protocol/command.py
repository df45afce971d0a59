"""``pyiqa-uniqa protocol``: train and test a recipe on repeated splits, cross-dataset sets and settings; one table.

    pyiqa-uniqa protocol -opt options/uniqa/koniq.yml --splits 10 --cross livec spaq --out results/uniqa_koniq
    pyiqa-uniqa protocol -opt my_protocol.yml --jobs 2 --selection both --out results/p
    pyiqa-uniqa protocol -opt my_protocol.yml --shard 0/4 --out results/p   (one of four machines)
    pyiqa-uniqa protocol --merge --out results/p                            (the table of what is there)

Everything the request names (protocol file, recipes, datasets, split files, the output folder) is
checked before any unit starts. Writes into ``--out``: ``protocol.yml`` (the whole request, to rerun
it), ``manifest.json``, ``splits/`` (the protocol's split files), ``units/<recipe>/<dataset>/<setting>/
split_NN/`` (one training each), ``results.md``, ``results.csv``, ``per_split.csv`` and ``spread.png``.
Rerunning the same command resumes: finished units are not run again. Exit status 1 when a unit
failed (the table lists it; the others ran), 0 otherwise.
"""
import os
import signal
import sys
import time
from pathlib import Path

from pyiqa_uniqa.errors import UserError


def add_arguments(parser):
    parser.add_argument('-opt', metavar='YAML', help='a training recipe, or a protocol file (recipes: ...)')
    parser.add_argument('-d', '--datasets', nargs='+', default=[], metavar='DATASET',
                        help="datasets to train on, named as for eval (default: the recipe's own)")
    parser.add_argument('--cross', nargs='+', default=[], metavar='DATASET',
                        help='datasets to test on whole, never trained on (cross-dataset columns)')
    parser.add_argument('--splits', type=int, help='number of splits per dataset (default 10)')
    parser.add_argument('--split-file', metavar='PKL',
                        help='pyiqa split file to take the splits from (default: the meta-info split columns, '
                             'else seeded splits written into --out)')
    parser.add_argument('--test-fraction', type=float, help='test part of the seeded splits (default 0.2)')
    parser.add_argument('--val-fraction', type=float,
                        help='selection part carved from each training part (default 0.1)')
    parser.add_argument('--seed', type=int, help='seed of the splits and the carving (default 123)')
    parser.add_argument('--data-opt', metavar='YAML', help='more dataset names, as for eval --data-opt')
    parser.add_argument('--data-root', help="where pyiqa's datasets live (default ./datasets)")
    parser.add_argument('--name', help='the protocol\'s name (default: the file\'s)')
    parser.add_argument('--force_yml', nargs='+', default=None, metavar='SECTION:KEY=VALUE',
                        help='options overridden in every unit, e.g. train:total_epoch=5')
    parser.add_argument('--selection', choices=('honest', 'test', 'both'), default='honest',
                        help='checkpoint selection in the table: on the val part carved from training '
                             "(default), best on the test part (the papers' way), or both rows")
    parser.add_argument('--out', default='protocol', help='output folder (default ./protocol)')
    parser.add_argument('--jobs', type=int, default=1, help='units trained at once, each its own process')
    parser.add_argument('--nproc-per-unit', type=int, default=1,
                        help='GPUs per unit: each unit runs under torchrun with this many processes')
    parser.add_argument('--shard', metavar='i/n', help='run only every n-th unit from the i-th (0-based)')
    parser.add_argument('--merge', action='store_true',
                        help="write the table from the units in --out (e.g. after shards); train nothing")


def _check_flags(args):
    if args.jobs < 1:
        raise UserError(f'--jobs must be >= 1, not {args.jobs}.')
    if args.nproc_per_unit < 1:
        raise UserError(f'--nproc-per-unit must be >= 1, not {args.nproc_per_unit}.')
    if args.merge and args.shard:
        raise UserError('--merge writes the table of every shard; give it without --shard.')
    if not args.merge and not args.opt:
        raise UserError('-opt is needed: a training recipe or a protocol file (or --merge with --out).')


def rules_of(selection):
    from pyiqa_uniqa.apps.protocol.units import BEST_ON_TEST, HONEST
    return {'honest': [HONEST], 'test': [BEST_ON_TEST], 'both': [HONEST, BEST_ON_TEST]}[selection]


def _duration(seconds):
    seconds = round(seconds)
    return f'{seconds // 60} min {seconds % 60:02d} s' if seconds >= 60 else f'{seconds} s'


class Progress:
    """Prints one line per unit as it ends: done/total, the unit's test SRCC, and the ETA of the rest."""

    def __init__(self, total, jobs):
        self.total, self.jobs = total, jobs
        self.done = self.ran = 0
        self.start = time.time()
        self.failed = []

    def __call__(self, outcome):
        self.done += 1
        line = f'[{self.done}/{self.total}] {outcome.unit.label}: '
        if outcome.state == 'skipped':
            line += 'finished before, not run again'
        elif outcome.state == 'busy':
            line += 'being run by another process, left to it'
        else:
            self.ran += 1
            line += f'{outcome.state} in {_duration(outcome.seconds)}'
            if outcome.state == 'complete':
                test = outcome.result['selected']['honest']['columns'].get('test') or {}
                line += f", test SRCC {test.get('srcc', float('nan')):.4f} (honest selection)"
            else:
                self.failed.append(outcome)
                line += f' (see {outcome.unit.folder}/train.log)'
            left = self.total - self.done
            if left:
                line += f'; ETA {_duration((time.time() - self.start) / self.ran * left)}'
        print(line, file=sys.stderr, flush=True)


def run(args):
    _check_flags(args)
    from pyiqa_uniqa.sharding import parse_shard, shard_of
    shard = parse_shard(args.shard) if args.shard else None
    out_dir = Path(args.out)
    if args.merge:
        return _merge(out_dir, args.selection)

    from pyiqa_uniqa.apps.protocol.manifest import (
        check_out_folder,
        make_manifest,
        write_manifest,
    )
    from pyiqa_uniqa.apps.protocol.plan import make_plan, preflight
    from pyiqa_uniqa.apps.protocol.request import read_request
    from pyiqa_uniqa.apps.protocol.splits import write_split_file
    from pyiqa_uniqa.apps.protocol.units import run_units

    request = read_request(args)
    plan = make_plan(request, out_dir)
    preflight(plan, args.opt)
    manifest = make_manifest(request, plan)
    check_out_folder(out_dir, manifest)
    write_manifest(out_dir, manifest)  # first: a shard starting beside this one then finds the same protocol
    for dataset in plan.split_files:
        write_split_file(dataset.file, dataset.splits)

    units = shard_of(plan.units, *shard) if shard else plan.units
    progress = Progress(len(units), args.jobs)
    print(f'protocol {request.name}: {len(units)} units'
          f'{f" (shard {args.shard} of {len(plan.units)})" if shard else ""}, --jobs {args.jobs}, into {out_dir}/',
          file=sys.stderr, flush=True)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so running units are stopped too
    try:
        run_units(units, out_dir, jobs=args.jobs, nproc=args.nproc_per_unit, on_outcome=progress)
    except KeyboardInterrupt:
        print(f'interrupted: {progress.done} of {len(units)} units ended; rerun the same command to resume '
              '(finished units are not run again).', file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    wall = time.time() - progress.start
    print(f'{progress.ran} unit(s) trained in {_duration(wall)} with --jobs {args.jobs} '
          f'({os.cpu_count()} CPUs)', file=sys.stderr)
    if shard:
        print(f'shard {args.shard} done; `pyiqa-uniqa protocol --merge --out {out_dir}` writes the table '
              'once every shard has run.', file=sys.stderr)
        return 1 if progress.failed else 0
    _merge(out_dir, args.selection)
    return 1 if progress.failed else 0


def _merge(out_dir, selection):
    """Write the table, the CSVs and the figure from the units the manifest lists; print the table."""
    from pyiqa_uniqa.apps.protocol.manifest import manifest_units, read_manifest
    from pyiqa_uniqa.apps.protocol.report import write_report
    from pyiqa_uniqa.apps.protocol.request import ProtocolError

    manifest = read_manifest(out_dir)
    if manifest is None:
        raise ProtocolError(f'--out {out_dir} holds no protocol (no manifest.json); run the protocol first.')
    text, complete = write_report(out_dir, manifest, manifest_units(manifest), rules_of(selection))
    print(text)
    print(f'Report written to {out_dir}/ (results.md, results.csv, per_split.csv, spread.png)', file=sys.stderr)
    return 0 if complete else 1
