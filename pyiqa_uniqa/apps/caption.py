"""``pyiqa-uniqa caption``: describe every image of a quality or aesthetics dataset in words.

Input is a pyiqa meta-info CSV (image path, MOS, any other columns). Each image's MOS is mapped to
one of five levels (equal-width bins over the dataset's MOS range) and the level word guides the
captioner. Output is JSON Lines, one record per image: image, level, level_index, mos, task,
model, prompt, caption.

Resume: records are appended and fsync'ed per batch; a restarted run with the same command skips
images already in the output file (and cuts a torn last line), so a killed job ends with every
image captioned exactly once. Each record holds its image's content key (``content_keys``): an image
changed since its caption was written is captioned again and its old record dropped; a record
without a key (written before keys existed) counts as changed. ``--shard i/n`` takes every n-th
image starting at i (0-based) and writes ``<out stem>.shard<i>of<n>.jsonl``; the level bins are
still computed over the whole CSV.
"""
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from pyiqa_uniqa.content_keys import file_key, still_same
from pyiqa_uniqa.data.images import UnreadableImageError
from pyiqa_uniqa.files import atomic_write
from pyiqa_uniqa.errors import Interrupted, UserError
from pyiqa_uniqa.sharding import parse_shard, shard_of
from pyiqa_uniqa.uniqa_pretrain.caption_prompts import TASKS, CaptionPrompts, mos_levels
from pyiqa_uniqa.uniqa_pretrain.captioning_models import (
    TEMPLATE_MODEL,
    CaptionRequest,
    build_captioner,
)
from pyiqa_uniqa.uniqa_pretrain.captioning_records import (
    CaptionFileError,
    MissingImagesError,
    RecordAppender,
    read_records,
)

logger = logging.getLogger('pyiqa_uniqa')


@dataclass
class ImageRow:
    image: str  # as written in the CSV (the record key)
    path: Path  # resolved file
    mos: float
    level: int
    distortions: list


def shard_output_path(out, index, count):
    out = Path(out)
    return out if count == 1 else out.with_name(f'{out.stem}.shard{index}of{count}{out.suffix}')


def _column(table, name, fallback_position, what, csv_path):
    if name is None:
        if table.shape[1] <= fallback_position:
            raise CaptionFileError(f'{csv_path} has {table.shape[1]} column(s); expected the {what} in column '
                                   f'{fallback_position + 1}. Name it with --{what}-column.')
        return table.columns[fallback_position]
    if name not in table.columns:
        raise CaptionFileError(f'{csv_path} has no column {name!r} (columns: {", ".join(map(str, table.columns))}); '
                               f'name the right one with --{what}-column.')
    return name


def read_csv(csv_path):
    """A meta-info CSV as a table; a missing, empty, binary or malformed file is a ``CaptionFileError``."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise CaptionFileError(f'Data CSV {csv_path} does not exist' + (' (it is a folder).' if csv_path.is_dir()
                                                                        else '.'))
    try:
        table = pd.read_csv(csv_path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise CaptionFileError(f'{csv_path} is not a readable CSV table ({err.__class__.__name__}: '
                               f'{str(err).splitlines()[0] if str(err) else "no data"}). --data takes a pyiqa '
                               'meta-info CSV: a header, then one row per image (path, MOS, ...).') from None
    if table.empty:
        raise CaptionFileError(f'{csv_path} has a header but no rows: nothing to caption.')
    return table


def read_image_table(csv_path, image_root=None, image_column=None, mos_column=None, mos_range=None,
                     lower_better=False, distortion_column=None, severity_column=None, split=None,
                     split_column='split'):
    """Rows of a pyiqa meta-info CSV, with levels computed over all rows (before any sharding or split)."""
    csv_path = Path(csv_path)
    table = read_csv(csv_path)
    image_column = _column(table, image_column, 0, 'image', csv_path)
    mos_column = _column(table, mos_column, 1, 'mos', csv_path)
    mos = pd.to_numeric(table[mos_column], errors='coerce')
    unusable = mos.isna() | mos.abs().eq(float('inf'))
    if unusable.any():
        bad = table.index[unusable][:5].tolist()
        raise CaptionFileError(f'{csv_path}: column {mos_column!r} has missing, infinite or non-numeric MOS values '
                               f'(rows {bad}). Is the MOS column right? (--mos-column)')
    levels = mos_levels(mos.to_numpy(), mos_range=mos_range, lower_better=lower_better)
    distortion_column = distortion_column or _guess(table, ('distortion', 'dist_type', 'distortion_type'))
    severity_column = severity_column or _guess(table, ('severity', 'level', 'dist_level', 'distortion_level'))
    root = Path(image_root).expanduser() if image_root else csv_path.parent
    if split is not None:
        split_column = _column(table, split_column, 0, 'split', csv_path)
    rows, seen = [], set()
    for position, image in enumerate(table[image_column].astype(str)):
        if split is not None and str(table[split_column].iloc[position]) != split:
            continue
        if image in seen:
            continue  # one caption per image: a repeated row would be captioned twice
        seen.add(image)
        distortions = []
        if distortion_column is not None:
            severity = table[severity_column].iloc[position] if severity_column is not None else 3
            distortions = [(table[distortion_column].iloc[position], _severity(severity))]
        path = Path(image).expanduser()
        rows.append(ImageRow(image, path if path.is_absolute() else root / path,
                             float(mos.iloc[position]), int(levels[position]), distortions))
    return rows


def _guess(table, names):
    return next((c for c in table.columns if str(c).lower() in names), None)


def _severity(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 3


def caption_images(rows, captioner, task, out_path, batch_size=8, progress=True, skip_missing=False):
    """Caption ``rows`` not yet in ``out_path``; returns a summary dict."""
    out_path = Path(out_path)
    done, problems, changed = set(), [], set()
    if out_path.exists():
        records, problems = read_records(out_path)  # a damaged line mid-file raises, naming it
        for record in records:
            if record.get('task') != task or record.get('model') != captioner.name:
                raise CaptionFileError(
                    f'{out_path} already holds captions from task {record.get("task")!r} with model '
                    f'{record.get("model")!r}; this run is task {task!r} with {captioner.name!r}. '
                    'Use another --out, or the same task and model to resume.')
        # a caption is kept only for the content it describes (content_keys); a changed image's
        # record is dropped (the file is rewritten whole) and the image captioned again
        path_of = {row.image: row.path for row in rows}
        changed = {r.get('image') for r in records
                   if r.get('image') in path_of and not still_same(path_of[r['image']], r.get('file'))}
        if changed:
            with atomic_write(out_path, 'w', encoding='utf-8') as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + '\n' for r in records if r.get('image') not in changed)
        done = {r.get('image') for r in records} - changed
    todo = [row for row in rows if row.image not in done]
    already_done = len(rows) - len(todo)
    missing = [row for row in todo if not row.path.is_file()]
    if missing:
        message = (f'{len(missing)} image file(s) do not exist (first: {missing[0].path}). '
                   'Set --image-root to the dataset folder')
        if not skip_missing:
            raise MissingImagesError(message + ', or pass --skip-missing.')
        logger.warning(message + '; skipping them.')
        todo = [row for row in todo if row.path.is_file()]
    failed = []
    with RecordAppender(out_path) as appender, tqdm(total=len(rows), initial=len(rows) - len(todo), unit='img',
                                                    desc=f'caption {task}', disable=not progress, file=sys.stderr) as bar:
        written = 0
        try:
            for start in range(0, len(todo), batch_size):
                batch = todo[start:start + batch_size]
                keys = [_file_key_or_none(row.path) for row in batch]  # before decoding: see content_keys
                captions = _caption_batch(captioner, task, batch, failed)
                records = [{**_record(row, task, captioner, caption), 'file': key}
                           for row, caption, key in zip(batch, captions, keys) if caption is not None]
                appender.write(records)
                written += len(records)
                bar.update(len(batch))
        except KeyboardInterrupt:  # the CLI says how many are saved and how to resume
            raise Interrupted(written, out_path) from None
    return {'images': len(rows), 'already_done': already_done, 'changed': len(changed & {r.image for r in rows}),
            'captioned': len(todo) - len(failed), 'missing': len(missing), 'failed': failed,
            'torn_lines_dropped': len([p for p in problems if 'torn' in p]), 'out': str(out_path)}


def _file_key_or_none(path):
    try:
        return file_key(path)
    except OSError:  # unreadable: the captioner reports it
        return None


def _caption_batch(captioner, task, batch, failed):
    """Captions for a batch; a file that fails to decode gets None (and is retried on resume)."""
    requests = [CaptionRequest(str(row.path), task, row.level, row.distortions) for row in batch]
    try:
        return captioner.caption(requests)
    except UnreadableImageError:
        captions = []
        for row, request in zip(batch, requests):  # find the bad file(s), keep the rest
            try:
                captions.extend(captioner.caption([request]))
            except UnreadableImageError as err:
                failed.append(f'{row.image}: {err}')
                captions.append(None)
        return captions


def _record(row, task, captioner, caption):
    request = CaptionRequest(str(row.path), task, row.level, row.distortions)
    return {'image': row.image, 'level': captioner.prompts.levels[row.level], 'level_index': row.level,
            'mos': row.mos, 'task': task, 'model': captioner.name,
            'prompt': captioner.instruction(request), 'caption': caption}


def add_arguments(parser):
    parser.add_argument('--data', required=True, help='pyiqa meta-info CSV: image path, MOS, ...')
    parser.add_argument('--task', required=True, choices=TASKS)
    parser.add_argument('--model', required=True,
                        help="Hugging Face model id or local folder of a vision-language model, or "
                             "'template' (no model: captions from the level and known distortions)")
    parser.add_argument('--out', required=True, help='output JSONL (appended to; resumes)')
    parser.add_argument('--image-root', help='folder the CSV image paths are relative to (default: the CSV folder)')
    parser.add_argument('--image-column', help='CSV column of image paths (default: the first)')
    parser.add_argument('--mos-column', help='CSV column of MOS (default: the second)')
    parser.add_argument('--mos-range', nargs=2, type=float, metavar=('LOW', 'HIGH'),
                        help='score range for the five level bins (default: min and max of the CSV)')
    parser.add_argument('--lower-better', action='store_true', help='lower MOS means better (e.g. DMOS)')
    parser.add_argument('--distortion-column', help="template captioner: column naming each image's "
                        "distortion (default: a column called 'distortion' if present)")
    parser.add_argument('--severity-column', help="template captioner: column of the distortion level 1..5 "
                        "(default: a column called 'severity' or 'level' if present)")
    parser.add_argument('--split', help="caption only rows whose split column has this value (e.g. train); "
                        'the level bins still span all rows')
    parser.add_argument('--split-column', default='split')
    parser.add_argument('--prompts', help='prompt table YAML (default: the packaged caption_prompts.yml)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--shard', default='0/1', help='i/n: caption every n-th image from i (0-based)')
    parser.add_argument('--device', help='cuda, cuda:1, cpu (default: cuda if available)')
    parser.add_argument('--dtype', default='auto', choices=['auto', 'float32', 'float16', 'bfloat16'])
    parser.add_argument('--max-new-tokens', type=int, default=128)
    parser.add_argument('--max-image-side', type=int, default=1024,
                        help='shrink larger images before the processor sees them')
    parser.add_argument('--skip-missing', action='store_true', help='skip image files that do not exist')
    parser.add_argument('--no-progress', action='store_true')


def run(args):
    if args.batch_size < 1:
        raise UserError(f'--batch-size must be at least 1, got {args.batch_size}.')
    index, count = parse_shard(args.shard)
    prompts = CaptionPrompts.load(args.prompts)
    prompts.task(args.task)
    rows = read_image_table(args.data, args.image_root, args.image_column, args.mos_column, args.mos_range,
                            args.lower_better, args.distortion_column, args.severity_column, args.split,
                            args.split_column)
    rows = shard_of(rows, index, count)
    captioner = build_captioner(args.model, prompts, **({} if args.model == TEMPLATE_MODEL else dict(
        device=args.device, dtype=args.dtype, max_new_tokens=args.max_new_tokens,
        max_image_side=args.max_image_side)))
    out = shard_output_path(args.out, index, count)
    summary = caption_images(rows, captioner, args.task, out, args.batch_size,
                             progress=not args.no_progress, skip_missing=args.skip_missing)
    print(f"{summary['out']}: {summary['captioned']} captioned now ({summary['changed']} of them again because the "
          f"image changed), {summary['already_done']} already done, "
          f"{summary['missing']} missing, {len(summary['failed'])} unreadable "
          f"(of {summary['images']} images in shard {index}/{count}).")
    for line in summary['failed'][:10]:
        print(f'  unreadable: {line}')
    return 1 if summary['failed'] else 0
