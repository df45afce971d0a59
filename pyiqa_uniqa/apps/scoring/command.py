"""``pyiqa-uniqa score``: score every image of a folder, glob, list or CSV with any pyiqa metric, to a table.

    pyiqa-uniqa score -m uniqa attiqa clip-agiqa piqe --images photos/ --out scores.csv
    pyiqa-uniqa score -m uniqa:num_crops=5 --images list.txt --out scores.parquet --device cuda --precision fp16
    pyiqa-uniqa score -m lpips psnr --images dist/ --ref ref/ --out fr.csv
    torchrun --nproc_per_node 8 -m pyiqa_uniqa score -m uniqa --images /data/shard/ --out s.csv
    pyiqa-uniqa score -m uniqa --images /data/ --out part3.csv --shard 3/16     # one of 16 machines
    pyiqa-uniqa score --merge part*.csv --out all.csv                             # then, anywhere

Results are appended to a journal (``<out>.journal/``) as they are made: a rerun of the same
command scores only what is missing, also after a kill. The table is written at the end
(atomically). See docs/scoring.md.
"""
import contextlib
import sys
from pathlib import Path

from pyiqa_uniqa.apps.metrics.command_setup import add_metric_arguments


def add_arguments(parser):
    add_metric_arguments(parser)
    parser.add_argument('--images', metavar='SOURCE',
                        help='a folder (recursive), a quoted glob, a text file of paths, a CSV or one image')
    parser.add_argument('--ref', metavar='FOLDER',
                        help='reference images for full-reference metrics, matched by relative path')
    parser.add_argument('--image-root', metavar='DIR',
                        help='folder that relative names in a list or CSV are under (default: its folder)')
    parser.add_argument('--path-column', help='CSV column of image paths (default: path, image, img_path, ...)')
    parser.add_argument('--ref-column', help='CSV column of reference paths (default: ref, reference, ...)')
    parser.add_argument('--out', metavar='TABLE', help='output table: .csv, .jsonl or .parquet')
    parser.add_argument('--journal', metavar='DIR', help='where results are appended (default: <out>.journal)')
    parser.add_argument('--no-resume', action='store_true', help='ignore what the journal holds and score all')
    parser.add_argument('--device', help='cpu, cuda, cuda:1, ... (default: cuda when available)')
    parser.add_argument('--precision', default='fp32', choices=('fp32', 'fp16', 'bf16'),
                        help='precision of the frozen towers, for metrics that offer it (default fp32)')
    parser.add_argument('--batch-size', type=int,
                        help='images per forward pass (default: 1 on CPU, 32 on GPU; 1 for language models)')
    parser.add_argument('--num-workers', type=int,
                        help="image-reading processes (default: by the metric's kind and the free cores, "
                             'see docs/speed.md)')
    parser.add_argument('--shard', metavar='i/n', help='score only shard i of n (0-based), for one of n machines')
    parser.add_argument('--merge', nargs='+', metavar='TABLE', help='merge shard tables into --out and exit')
    parser.add_argument('--describe', action='store_true',
                        help="add DepictQA's brief description and confidence (depictqa metrics)")
    parser.add_argument('--min-confidence', type=float, default=0.5,
                        help='descriptions below this confidence are flagged low_confidence (default 0.5)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')


def _validate(args):
    from pyiqa_uniqa.apps.outputs import check_output_file
    from pyiqa_uniqa.errors import UserError
    from pyiqa_uniqa.apps.scoring.table import table_format

    if not args.out:
        raise UserError('--out TABLE is required (.csv, .jsonl or .parquet).')
    table_format(args.out)
    check_output_file(args.out)
    if args.merge:
        if args.metrics or args.images:
            raise UserError('--merge only joins finished tables: give it the tables and --out, nothing to score.')
        return
    if not args.metrics and not args.metric_opt:
        raise UserError('no metrics given: use -m NAME [NAME ...] (any name `pyiqa -ls` lists).')
    if not args.images:
        raise UserError('--images is required: a folder, a glob, a text file of paths, a CSV or an image.')
    for flag in ('batch_size', 'threads'):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UserError(f'--{flag.replace("_", "-")} must be >= 1, not {value}.')
    if args.num_workers is not None and args.num_workers < 0:
        raise UserError(f'--num-workers must be >= 0, not {args.num_workers}.')
    if not 0 <= args.min_confidence <= 1:
        raise UserError(f'--min-confidence must be between 0 and 1, not {args.min_confidence}.')
    if args.metric_opt and not Path(args.metric_opt).is_file():
        raise UserError(f'--metric-opt {args.metric_opt}: no such file.')


def _merge(args):
    from pyiqa_uniqa.apps.scoring.shard_manifest import check_complete
    from pyiqa_uniqa.apps.scoring.table import merge_tables, read_table, write_table

    tables = [read_table(path) for path in args.merge]
    count = check_complete(args.merge, tables)
    merged = merge_tables(tables, args.merge)
    write_table(merged, args.out)
    print(f'score: merged {len(args.merge)} tables (all {count} shards), {len(merged)} rows -> {args.out}',
          file=sys.stderr)
    return 0


def summary_lines(run):
    lines = []
    for s in run.summaries:
        task = ' (describe)' if s.task == 'describe' else ''
        rate = f', {s.images_per_second:.2f} images/s with {s.setting}' if s.scored else ''
        lines.append(f'{s.label}{task}: {s.total} images ({s.scored} scored now in {s.seconds:.1f} s '
                     f'[{s.cpu_seconds:.2f} CPU-s]{rate}, {s.changed} of them again because the file changed; '
                     f'{s.cached} from the journal), {s.failed} without a value')
    return lines


def run(args):
    from pyiqa_uniqa.apps.metrics.command_setup import parse_metric_request
    from pyiqa_uniqa.apps.outputs import output_lock
    from pyiqa_uniqa.apps.scoring.inputs import find_images, pair_with_folder
    from pyiqa_uniqa.apps.scoring.processes import current_processes

    _validate(args)
    if args.merge:
        with output_lock(args.out):
            return _merge(args)
    # what needs no torch first: a wrong folder or metric file is answered without seconds of importing
    specs = parse_metric_request(args)
    images = find_images(args.images, args.image_root, args.path_column, args.ref_column)
    if args.ref:
        images = pair_with_folder(images, args.ref)
    processes = current_processes()
    try:
        # rank 0 holds the lock for all ranks: the others write only their own journal files
        with output_lock(args.out) if processes.rank == 0 else contextlib.nullcontext():
            return _score(args, processes, specs, images)
    finally:
        processes.close()


def _score(args, processes, specs, images):
    from pyiqa_uniqa.errors import UserError
    from pyiqa_uniqa.apps.metrics.command_setup import prepare_metric_command

    specs = prepare_metric_command('score', args, specs)
    import shutil

    from pyiqa_uniqa.apps.scoring.engine import ScoreSettings, resolve_columns, score_rows
    from pyiqa_uniqa.apps.scoring.shard_manifest import manifest_path, write_manifest
    from pyiqa_uniqa.apps.scoring.table import table_records, write_table
    from pyiqa_uniqa.sharding import parse_shard, shard_of

    columns = resolve_columns(specs, args.precision, args.describe)
    if args.shard and processes.world > 1:
        raise UserError('--shard and torchrun both split the work; use one of them.')
    shard = parse_shard(args.shard) if args.shard else None
    needs_ref = [c.spec.label for c in columns if c.full_reference and c.task == 'score']
    if needs_ref and not any(row.ref for row in images.rows):
        raise UserError(f'{", ".join(needs_ref)}: full-reference metric(s) need a reference per image: give '
                        '--ref FOLDER (matched by relative path) or a CSV with a ref column as --images.')
    rows = shard_of(images.rows, *shard) if shard else images.rows
    if images.duplicates:
        print(f'score: {images.duplicates} row(s) listed twice were scored once', file=sys.stderr)
    writer = (f'shard-{shard[0]}-of-{shard[1]}' if shard else
              f'rank-{processes.rank}-of-{processes.world}' if processes.world > 1 else 'main')
    journal = Path(args.journal or f'{args.out}.journal')
    if args.no_resume and processes.rank == 0 and journal.is_dir():
        shutil.rmtree(journal)
    settings = ScoreSettings(device=args.device, precision=args.precision, batch_size=args.batch_size,
                             num_workers=args.num_workers, threads=args.threads, journal=journal,
                             writer=writer, progress=not args.no_progress)
    result = score_rows(rows, columns, settings, processes)
    if processes.rank != 0:
        return 0
    table = table_records(result, args.min_confidence, images.kept)
    write_table(table, args.out)
    if shard:
        write_manifest(args.out, shard, images.rows, columns)
    else:  # a table of every row now stands where a shard's may have stood
        manifest_path(args.out).unlink(missing_ok=True)
    for line in summary_lines(result):
        print(f'score: {line}', file=sys.stderr)
    unreadable = sum(1 for row in table if row['error'])
    print(f'score: {len(table)} rows -> {args.out}' + (f' ({unreadable} with an error, listed in its error column)'
                                                      if unreadable else ''), file=sys.stderr)
    scored = any(row.get(c.header()[0]) is not None for row in table for c in columns)
    if not scored:
        first = next(row for row in table if row['error'])
        print(f'score: no image could be scored; {first["path"]}: {first["error"]} (every row: the error column '
              f'of {args.out})', file=sys.stderr)
    return 0 if scored else 1
