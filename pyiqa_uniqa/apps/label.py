"""``pyiqa-uniqa label``: CLIP attribute pseudo-labels for a folder or CSV of images.

Output: a pyiqa meta-info CSV (image path relative to the image root, then the five attribute
columns, then a ``split`` column train/val chosen by a hash of the path) that
``AttributeLabelDataset`` reads for pre-training, and ``<out>.failed.csv`` listing images that
could not be read (reported, skipped, never retried silently).

Long jobs: ``--shard i/n`` (or torchrun's RANK/WORLD_SIZE) takes every n-th image. Each shard
appends to its own part file under ``<out>.parts/`` batch by batch (flushed), so a killed shard
resumes where it stopped with nothing lost or labelled twice. A part row holds its image's content
key (``content_keys``): an image changed since it was labelled (or failed) is labelled again when
its shard runs again, never kept with the old label. When a shard finishes and all shard parts are
complete, it merges them into ``<out>`` (``--merge`` does only that).
"""
import contextlib
import csv
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from pyiqa_uniqa.apps.metrics.metric_checks import check_device
from pyiqa_uniqa.apps.run_defaults import settle
from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.attiqa.clip_scorer import (
    CLIPAttributeScorer,
    add_clip_arguments,
    build_clip_from_args,
    labeller_weights,
)
from pyiqa_uniqa.attiqa.errors import InputError
from pyiqa_uniqa.attiqa.image_sources import list_images
from pyiqa_uniqa.attiqa.label_store import ResumableCSV
from pyiqa_uniqa.attiqa.prompt_bank import DEFAULT_PAIRS
from pyiqa_uniqa.attiqa.prompts_file import load_prompt_pairs
from pyiqa_uniqa.backbones.clip_input import resize_center_crop
from pyiqa_uniqa.content_keys import file_key, still_same
from pyiqa_uniqa.data.images import UnreadableImageError, image_to_tensor
from pyiqa_uniqa.errors import Interrupted
from pyiqa_uniqa.files import atomic_write, write_file
from pyiqa_uniqa.sharding import shard_from_environment, shard_of

PATH_COLUMN = 'image_path'
LABEL_COLUMNS = [PATH_COLUMN, *ATTRIBUTES]
FAILED_COLUMNS = ['image_path', 'error']
# shard parts also hold each image's content key (content_keys, as JSON): a resumed shard keeps a
# label or a failure only while the file still has the content it was made from
CONTENT_COLUMN = 'content'


def _check_probabilities(row):
    for value in row[1:1 + len(ATTRIBUTES)]:
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(value)


def _content(key):
    return json.dumps(key, separators=(',', ':'))


def _same_content(root, row):
    try:
        key = json.loads(row[-1])
    except ValueError:
        return False
    return still_same(Path(root) / row[0], key)


def part_paths(parts_dir, index, count):
    stem = f'shard-{index:05d}-of-{count:05d}'
    return parts_dir / f'{stem}.csv', parts_dir / f'{stem}.failed.csv', parts_dir / f'{stem}.done'


def listing_fingerprint(paths):
    return hashlib.sha1('\n'.join(paths).encode('utf-8')).hexdigest()


def check_manifest(parts_dir, manifest):
    """The parts of one job must come from the same images, shard count, prompts and CLIP. Only
    compares: ``write_manifest`` records a new job once its model has loaded, so a mistake in the
    request (a bad --backbone-weights) leaves nothing that would refuse the corrected retry."""
    path = parts_dir / 'manifest.json'
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            raise InputError(f'{path} is damaged ({err}); remove {parts_dir} to start the job afresh.') from err
        if not isinstance(previous, dict):
            raise InputError(f'{path} is not a label manifest; remove {parts_dir} to start the job afresh.')
        changed = [k for k in manifest if previous.get(k) != manifest[k]]
        if changed:
            raise InputError(f'{parts_dir} holds parts of a different job ({", ".join(changed)} changed). '
                             'Resume with the same --images/--prompts/--shard n/CLIP, or use another --out.')


def write_manifest(parts_dir, manifest):
    path = parts_dir / 'manifest.json'
    if not path.exists():
        parts_dir.mkdir(parents=True, exist_ok=True)
        write_file(path, json.dumps(manifest, indent=1))  # shards starting together write the same manifest


class LabelImages:
    """Dataset over relative paths: (position, image [3,S,S] or None, error or '')."""

    def __init__(self, root, paths, size):
        self.root, self.paths, self.size = Path(root), paths, size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, position):
        """-> (position, image or None, error or '', content key or None)."""
        path = self.root / self.paths[position]
        try:  # the key first: an edit made while the image is decoded shows at the next resume
            key = file_key(path)
        except FileNotFoundError:  # reported and skipped like a damaged file
            return position, None, 'missing file', None
        except OSError as err:
            return position, None, str(err), None
        try:  # draft_size: a large JPEG decodes at a reduced scale, still at least CLIP's size
            image = image_to_tensor(path, draft_size=self.size)
        except UnreadableImageError as err:
            return position, None, str(err), key
        return position, resize_center_crop(image.unsqueeze(0), self.size)[0], '', key


def _keep_batch(items):
    # unreadable images come as None, so the loop stacks the good ones itself (a module-level
    # function rather than a lambda: DataLoader workers must pickle it)
    return items


def label_shard(scorer, root, paths, label_file, failed_file, batch_size=32, num_workers=0, progress=True):
    """Label ``paths`` into ``label_file`` (resuming), unreadable ones into ``failed_file``.
    Returns (newly labelled, newly failed, already done)."""
    labels = ResumableCSV(label_file, [*LABEL_COLUMNS, CONTENT_COLUMN], _check_probabilities)
    failures = ResumableCSV(failed_file, [*FAILED_COLUMNS, CONTENT_COLUMN])
    done, changed = set(), 0
    for store in (labels, failures):
        rows = store.recover()
        kept = [row for row in rows if _same_content(root, row)]
        if len(kept) < len(rows):  # files changed since: their rows go, the images are labelled again
            store.rewrite(kept)
            changed += len(rows) - len(kept)
        done |= {row[0] for row in kept}
    if changed:
        tqdm.write(f'{changed} image(s) changed since they were labelled (or failed): labelling them again',
                   file=sys.stderr)
    todo = [p for p in paths if p not in done]
    loader = DataLoader(LabelImages(root, todo, scorer.size), batch_size=batch_size, num_workers=num_workers,
                        collate_fn=_keep_batch)
    labelled = failed = 0
    with tqdm(total=len(paths), initial=len(paths) - len(todo), unit='img', disable=not progress,
              desc=f'label {Path(label_file).stem}') as bar, _saved_on_interrupt(lambda: labelled + failed,
                                                                                    Path(label_file).parent):
        for batch in loader:
            good = [(todo[i], image, key) for i, image, _, key in batch if image is not None]
            bad = [(todo[i], error, key) for i, image, error, key in batch if image is None]
            if good:
                probabilities = scorer(torch.stack([image for _, image, _ in good])).cpu().tolist()
                labels.append([[path, *(f'{p:.6f}' for p in row), _content(key)]
                               for (path, _, key), row in zip(good, probabilities)])
            failures.append([[path, error, _content(key)] for path, error, key in bad])
            for path, error, _ in bad:
                tqdm.write(f'skipped unreadable image {path}: {error}', file=sys.stderr)
            labelled, failed = labelled + len(good), failed + len(bad)
            bar.update(len(batch))
    return labelled, failed, len(paths) - len(todo)


@contextlib.contextmanager
def _saved_on_interrupt(count, folder):
    """Ctrl-C becomes ``errors.Interrupted`` with the rows this run saved, for the CLI's resume line."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(count(), folder) from None


def split_of(path, val_fraction):
    """Stable train/val assignment from the path alone (independent of shards and order)."""
    bucket = int(hashlib.md5(path.encode('utf-8')).hexdigest()[:8], 16) / 0xFFFFFFFF
    return 'val' if bucket < val_fraction else 'train'


def merge_parts(parts_dir, count, paths, out, val_fraction):
    """Combine all shard parts into ``out`` (listing order) and ``<out>.failed.csv``.
    Returns None when some shard has not finished yet, else (labelled, failed). When no image at
    all could be read it writes nothing and removes the parts, so that a rerun starts afresh."""
    if not all(part_paths(parts_dir, i, count)[2].exists() for i in range(count)):
        return None
    labelled, failed = {}, {}
    for index in range(count):
        label_file, failed_file, _ = part_paths(parts_dir, index, count)
        for target, path, columns in ((labelled, label_file, LABEL_COLUMNS), (failed, failed_file, FAILED_COLUMNS)):
            for row in ResumableCSV(path, [*columns, CONTENT_COLUMN]).recover():
                if row[0] in labelled or row[0] in failed:
                    raise InputError(f'{row[0]} appears in more than one shard part under {parts_dir}.')
                target[row[0]] = row[:-1]  # the content key stays in the parts
    missing = [p for p in paths if p not in labelled and p not in failed]
    if missing:
        raise InputError(f'{len(missing)} images have no label yet (e.g. {missing[:3]}); rerun the shards.')
    if not labelled:
        shutil.rmtree(parts_dir)
        examples = '; '.join(f'{path}: {error}' for path, error in list(failed.values())[:3])
        raise InputError(f'none of the {len(paths)} images could be read, so nothing was labelled ({examples}).')
    out = Path(out)
    for target_path, header, rows in (
            (out, [*LABEL_COLUMNS, 'split'],
             [[*labelled[p], split_of(p, val_fraction)] for p in paths if p in labelled]),
            (failed_path_for(out), FAILED_COLUMNS, [failed[p] for p in paths if p in failed])):
        # concurrent mergers write identical files; each replace is atomic
        with atomic_write(target_path, newline='', encoding='utf-8') as handle:
            writer = csv.writer(handle, lineterminator='\n')
            writer.writerow(header)
            writer.writerows(rows)
    return len(labelled), len(failed)


def failed_path_for(out):
    out = Path(out)
    return out.with_name(out.stem + '.failed.csv')


def add_arguments(parser):
    parser.add_argument('--images', required=True, help='image folder (recursive) or CSV (first column: paths)')
    parser.add_argument('--image-root', default=None, help='folder CSV paths are relative to (default: the CSV folder)')
    parser.add_argument('--prompts', default=None,
                        help='prompts YAML from select-prompts (default: the CLIP-IQA pairs, unselected)')
    parser.add_argument('--out', required=True, help='meta-info CSV to write')
    parser.add_argument('--shard', default=None, help="i/n: label every n-th image from i (one process per shard)")
    parser.add_argument('--merge', action='store_true', help='only merge finished shard parts into --out')
    parser.add_argument('--num-workers', type=int,
                        help='image-reading processes (default: as score for a CLIP tower, docs/speed.md)')
    parser.add_argument('--val-fraction', type=float, default=0.02, help="share of images in the 'val' split")
    parser.add_argument('--no-progress', action='store_true')
    add_clip_arguments(parser)


def run(args):
    index, count = shard_from_environment(args.shard)
    root, paths = list_images(args.images, args.image_root)
    pairs = load_prompt_pairs(args.prompts) if args.prompts else dict(DEFAULT_PAIRS)
    out = Path(args.out)
    parts_dir = out.with_name(out.name + '.parts')
    manifest = {'images': len(paths), 'listing': listing_fingerprint(paths), 'shards': count,
                'prompts': {k: list(v) for k, v in pairs.items()},
                'clip': [args.model_name, str(labeller_weights(args)), args.precision]}
    check_manifest(parts_dir, manifest)
    if not args.merge:
        check_device(args.device)
        device = args.device or (f'cuda:{os.environ.get("LOCAL_RANK", "0")}' if torch.cuda.is_available() else 'cpu')
        clip_model, tokenizer = build_clip_from_args(args, device)
        scorer = CLIPAttributeScorer(clip_model, tokenizer, pairs, args.precision)
        write_manifest(parts_dir, manifest)
        label_file, failed_file, done_marker = part_paths(parts_dir, index, count)
        shard = shard_of(paths, index, count)
        chosen = settle('tower', device, readers=args.num_workers, batch_size=args.batch_size, images=len(shard))
        labelled, failed, skipped = label_shard(
            scorer, root, shard, label_file, failed_file, chosen.batch_size, chosen.readers,
            progress=not args.no_progress)
        done_marker.touch()
        print(f'shard {index}/{count}: {labelled} labelled, {failed} unreadable, {skipped} already done before.')
    merged = merge_parts(parts_dir, count, paths, out, args.val_fraction)
    if merged is None:
        print(f'other shards are still running; the last one to finish merges into {out} '
              f'(or run again with --merge).')
        return 0
    print(f'wrote {out}: {merged[0]} images labelled; {merged[1]} unreadable listed in {failed_path_for(out)}.')
    return 0

