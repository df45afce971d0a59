"""Small pyiqa-format datasets built from scikit-image photos and the seeded distortion library.

The builders (``build_nr_dataset``, ``build_fr_dataset``); the pyiqa dataset types that build on
first use are in ``photo_dataset_types``. Images are rendered by ``rendering``.

Layout of a dataset root (paths in the CSV are relative to the root, pyiqa's ``dataroot_target``)::

    ref/<photo>.png                      pristine photos (resized so the short side is ``size``)
    dist/<photo>_<distortion>_<level>.png
    meta_info.csv                        NR: img_name, mos, ...   FR: ref_name, dist_name, mos, ...
    split.pkl                            {1: {'train': [row, ...], 'val': [...], 'test': [...]}}
    manifest.json                        build options and file sizes; 'complete' once everything is written

MOS rule (higher is better, range [0, 1]): a pristine photo scores 1, a distorted one
``1 - level / 6``, i.e. 5/6 (level 1) down to 1/6 (level 5), whatever the distortion. Distortions
are not perceptually calibrated against each other, so the labels rank severity within a
distortion exactly and across distortions only roughly.

Splits are made per source photo (every version of a photo falls in one split), from a
permutation of the photos seeded by ``seed``. Builds are idempotent (a complete dataset with the
same options is reused without writing anything) and resumable (an interrupted build keeps the
images it wrote atomically and writes the rest; a root built with other options is rebuilt).
"""

import json
import math
import numbers
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pyiqa_uniqa.data.distortions import DISTORTIONS, LEVELS
from pyiqa_uniqa.data.photos import ALL_PHOTO_NAMES, PHOTO_NAMES, load_photos, unknown_photo_names
from pyiqa_uniqa.data.rendering import encode_png, render_distortions, resize_short_side
from pyiqa_uniqa.errors import InvalidOptionError
from pyiqa_uniqa.files import write_file

DEFAULT_DISTORTIONS = ('blur', 'noise', 'jpeg', 'brighten', 'darken', 'contrast_low', 'saturation_low', 'pixelate')
DEFAULT_SIZE = 256  # short side; 224 crops fit
DEFAULT_SPLIT_RATIOS = (0.6, 0.2, 0.2)  # train, val, test, over source photos
MOS_RANGE = (0.0, 1.0)
PHASES = ('train', 'val', 'test')

META_INFO_NAME = 'meta_info.csv'
SPLIT_NAME = 'split.pkl'
MANIFEST_NAME = 'manifest.json'
OWNED_DIRS = ('ref', 'dist')
FORMAT_VERSION = 1


def severity_mos(level):
    """MOS for a distortion level (0 = pristine): 1 - level / (max level + 1)."""
    return 1.0 - level / (max(LEVELS) + 1)


def build_nr_dataset(root, distortions=None, levels=LEVELS, photos=None, size=DEFAULT_SIZE, seed=0,
                     split_ratios=DEFAULT_SPLIT_RATIOS, include_reference=True, progress=True):
    """Build (or reuse) a GeneralNRDataset-format dataset in ``root``.

    ``include_reference`` adds the pristine photos as rows with MOS 1. Returns a dict of paths
    (``dataroot_target``, ``meta_info_file``, ``split_file``, ``manifest_file``) ready to use as
    pyiqa dataset options.
    """
    options = _normalise_options('nr', distortions, levels, photos, size, seed, split_ratios)
    options['include_reference'] = bool(include_reference)
    return _build(Path(root), options, progress)


def build_fr_dataset(root, distortions=None, levels=LEVELS, photos=None, size=DEFAULT_SIZE, seed=0,
                     split_ratios=DEFAULT_SPLIT_RATIOS, progress=True):
    """Build (or reuse) a GeneralFRDataset-format dataset (reference, distorted, MOS) in ``root``.

    Returns the same paths as ``build_nr_dataset`` plus ``dataroot_ref`` (the same root: the
    reference names in the CSV already start with ``ref/``).
    """
    options = _normalise_options('fr', distortions, levels, photos, size, seed, split_ratios)
    paths = _build(Path(root), options, progress)
    return paths | {'dataroot_ref': paths['dataroot_target']}


# ---------------------------------------------------------------------------------------------
# options


def _normalise_options(kind, distortions, levels, photos, size, seed, split_ratios):
    distortions = tuple(DEFAULT_DISTORTIONS if distortions is None else _as_sequence('distortions', distortions))
    unknown = [d for d in distortions if d not in DISTORTIONS]
    if unknown or not distortions or len(set(distortions)) != len(distortions):
        raise InvalidOptionError(f'distortions must be distinct names from {", ".join(DISTORTIONS)}; '
                                 f'got {list(distortions)}')

    levels = tuple(_as_sequence('levels', levels))
    if not levels or not all(_is_int(v) and v in LEVELS for v in levels) or len(set(levels)) != len(levels):
        raise InvalidOptionError(f'levels must be distinct values from {LEVELS}; got {list(levels)}')

    photos = tuple(PHOTO_NAMES if photos is None else _as_sequence('photos', photos))
    unknown = unknown_photo_names(photos)
    if unknown or not photos or len(set(photos)) != len(photos):
        raise InvalidOptionError(f'photos must be distinct names from {", ".join(ALL_PHOTO_NAMES)}; got {list(photos)}')

    if size is not None and not (_is_int(size) and size >= 1):
        raise InvalidOptionError(f'size must be a positive int (short side in pixels) or None (native size); '
                                 f'got {size!r}')
    if not _is_int(seed):
        raise InvalidOptionError(f'seed must be an int; got {seed!r}')

    ratios = tuple(_as_sequence('split_ratios', split_ratios))
    valid = all(isinstance(r, numbers.Real) and not isinstance(r, bool) and math.isfinite(r) and r >= 0 for r in ratios)
    if len(ratios) != 3 or not valid or sum(ratios) <= 0:
        raise InvalidOptionError(f'split_ratios must be three non-negative numbers (train, val, test); '
                                 f'got {split_ratios!r}')

    return {
        'format_version': FORMAT_VERSION,
        'kind': kind,
        'distortions': list(distortions),
        'levels': sorted(int(v) for v in levels),
        'photos': list(photos),
        'size': None if size is None else int(size),
        'seed': int(seed),
        'split_ratios': [float(r) for r in ratios],
        # the parameter tables are part of the options: a changed table must rebuild old images
        'distortion_values': {d: list(DISTORTIONS[d].values) for d in distortions},
    }


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _as_sequence(name, value):
    if isinstance(value, (str, bytes)) or not hasattr(value, '__iter__'):
        raise TypeError(f'{name} must be a list, got {value!r}')
    return list(value)


# ---------------------------------------------------------------------------------------------
# rows and splits


def _rows(options):
    """One dict per CSV row, in a fixed order: per photo, the reference (NR only) then every distortion/level."""
    rows = []
    for photo in options['photos']:
        ref_name = f'ref/{photo}.png'
        if options['kind'] == 'nr' and options['include_reference']:
            rows.append({'photo': photo, 'image': ref_name, 'distortion': 'pristine', 'level': 0})
        for distortion in options['distortions']:
            for level in options['levels']:
                rows.append({'photo': photo, 'image': f'dist/{photo}_{distortion}_{level}.png', 'ref': ref_name,
                             'distortion': distortion, 'level': level})
    return rows


def _photo_phases(photos, ratios, seed):
    """Assign whole photos to phases; counts follow the ratios (largest remainder), each non-zero ratio gets >= 1."""
    wanted = [i for i, r in enumerate(ratios) if r > 0]
    if len(photos) < len(wanted):
        raise InvalidOptionError(f'{len(photos)} photo(s) cannot fill {len(wanted)} non-empty splits without leaking '
                                 'a photo across splits; use more photos or split_ratios such as (1, 0, 0)')
    exact = np.asarray(ratios) / sum(ratios) * len(photos)
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind='stable')[: len(photos) - counts.sum()]:
        counts[i] += 1
    for i in wanted:
        if counts[i] == 0:
            counts[int(np.argmax(counts))] -= 1
            counts[i] = 1
    order = np.random.default_rng(seed).permutation(len(photos))
    phase_of, start = {}, 0
    for phase, count in zip(PHASES, counts):
        for index in order[start:start + count]:
            phase_of[photos[index]] = phase
        start += count
    return phase_of


# ---------------------------------------------------------------------------------------------
# building


def _build(root, options, progress):
    manifest_file = root / MANIFEST_NAME
    paths = {
        'dataroot_target': str(root),
        'meta_info_file': str(root / META_INFO_NAME),
        'split_file': str(root / SPLIT_NAME),
        'manifest_file': str(manifest_file),
    }
    phase_of = _photo_phases(options['photos'], options['split_ratios'], options['seed'])  # validates before writing
    manifest = _read_manifest(root)
    recorded = manifest.get('files') if manifest and isinstance(manifest.get('files'), dict) else {}
    if manifest is not None and manifest.get('options') == options and manifest.get('state') == 'complete' \
            and recorded and not _damaged_files(root, recorded):
        return paths

    if manifest is None:
        if any((root / name).exists() for name in (*OWNED_DIRS, META_INFO_NAME, SPLIT_NAME)):
            raise FileExistsError(f'{root} holds dataset files but no {MANIFEST_NAME}; it was not built by '
                                  'pyiqa_uniqa (or its manifest was removed). Delete it or choose another root.')
    else:
        previous = manifest.get('options')
        previous_kind = previous.get('kind') if isinstance(previous, dict) else None
        if previous_kind in ('nr', 'fr') and previous_kind != options['kind']:
            raise InvalidOptionError(f'{root} holds a {previous_kind.upper()} dataset; build the '
                                     f'{options["kind"].upper()} dataset in another root')
        if manifest.get('options') != options:
            _remove_outputs(root)  # built with other options: nothing in it can be reused
        else:
            for name in _damaged_files(root, recorded):
                (root / name).unlink(missing_ok=True)  # changed since the build: regenerate it

    root.mkdir(parents=True, exist_ok=True)
    write_file(manifest_file, json.dumps({'state': 'building', 'options': options}, indent=1).encode())
    _write_images(root, options, progress)

    rows = _rows(options)
    write_file(root / META_INFO_NAME, _meta_info_csv(options['kind'], rows, phase_of).encode())
    split = {1: {phase: [i for i, row in enumerate(rows) if phase_of[row['photo']] == phase] for phase in PHASES}}
    write_file(root / SPLIT_NAME, pickle.dumps(split))

    files = sorted({row['image'] for row in rows} | {row['ref'] for row in rows if 'ref' in row}
                   | {META_INFO_NAME, SPLIT_NAME})
    sizes = {name: (root / name).stat().st_size for name in files}
    manifest = {'state': 'complete', 'options': options, 'files': sizes}
    write_file(manifest_file, json.dumps(manifest, indent=1).encode())
    return paths


def _read_manifest(root):
    try:
        manifest = json.loads((root / MANIFEST_NAME).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: ours, state unknown, so it is rebuilt
    return manifest if isinstance(manifest, dict) else {}


def _damaged_files(root, sizes):
    """Files of a finished build that are missing or whose size changed (truncated, overwritten)."""
    damaged = []
    for name, size in sizes.items():
        try:
            if (root / name).stat().st_size != size:
                damaged.append(name)
        except OSError:
            damaged.append(name)
    return damaged


def _remove_outputs(root):
    for name in OWNED_DIRS:
        shutil.rmtree(root / name, ignore_errors=True)
    for name in (META_INFO_NAME, SPLIT_NAME, MANIFEST_NAME):
        (root / name).unlink(missing_ok=True)




def _write_images(root, options, progress):
    for name in OWNED_DIRS:
        (root / name).mkdir(exist_ok=True)
        for stale in (root / name).glob('.*.tmp'):  # left by a build killed mid-write
            stale.unlink()

    todo = [(photo, d, level)
            for photo in options['photos'] for d in options['distortions'] for level in options['levels']
            if not (root / f'dist/{photo}_{d}_{level}.png').exists()]
    missing_refs = [p for p in options['photos'] if not (root / f'ref/{p}.png').exists()]
    needed = sorted({p for p, _, _ in todo} | set(missing_refs), key=options['photos'].index)
    if not needed:
        return

    bar = tqdm(total=len(todo) + len(missing_refs), desc=f'building {root.name}', unit='img', disable=not progress)
    threads = torch.get_num_threads()
    # the images are small: on a busy machine intra-op threads cost far more in synchronisation than
    # they gain (measured 30x slower blur with 2 threads under load), so build single-threaded
    torch.set_num_threads(1)
    try:
        for photo, array in load_photos(needed):
            _write_photo_images(root, photo, resize_short_side(array, options['size']),
                                [job for job in todo if job[0] == photo], options['seed'], bar)
    finally:
        torch.set_num_threads(threads)
        bar.close()


def _write_photo_images(root, photo, array, jobs, seed, bar):
    ref_path = root / f'ref/{photo}.png'
    if not ref_path.exists():
        write_file(ref_path, encode_png(array))
        bar.update()
    for _, distortion, level in jobs:
        distorted = render_distortions(array, [(distortion, level)], seed, photo)
        write_file(root / f'dist/{photo}_{distortion}_{level}.png', encode_png(distorted))
        bar.update()


def _meta_info_csv(kind, rows, phase_of):
    records = []
    for row in rows:
        mos = severity_mos(row['level'])
        names = {'img_name': row['image']} if kind == 'nr' else {'ref_name': row['ref'], 'dist_name': row['image']}
        records.append(names | {'mos': mos, 'photo': row['photo'], 'distortion': row['distortion'],
                                'level': row['level'], 'split': phase_of[row['photo']]})
    return pd.DataFrame.from_records(records).to_csv(index=False)
