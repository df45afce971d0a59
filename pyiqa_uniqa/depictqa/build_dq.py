"""``pyiqa-uniqa build-dq``: ground-truth-informed brief DepictQA samples from any image folder.

Every sample's answer is known because we made the distortion (``pyiqa_uniqa.data.distortions``):

- distortion identification (Task 1 brief): ONE distortion at severity U{1..5}, or TWO of
  different, non-contradicting categories at U{1..3} (the official split), or none (p = 0.05);
- instant rating A/B (Task 2 brief): two versions of one photo; the one with the lower severity
  (0 = pristine) is better. Severity orders versions of *one* distortion type reliably, but is only
  roughly comparable across types, so by default both versions share the type (or one is
  pristine; ``pair_types='any'`` mixes types) and pairs closer than ``min_gap`` levels are redrawn;
- quality level (our extension, the target of the ``depictqa`` score): one word from the severity.

Each comes in FR (with the pristine photo as reference) and NR variants. Training samples mix
single-word and sentence answers 50/50, and 50/50 state the distortion count (ONE/TWO) or not, as in
DQ-495K; test samples (``--test-images``) are single-word with the count stated, in the test-record
format (``query``/``answer``), so exact-match accuracy applies. Output follows the DQ-495K JSON
format (see ``dataset.py``); image paths are relative to the JSON's folder.

Deterministic: sample choices and distortion seeds derive from (seed, photo name) only, so the
output does not depend on folder order or on what was built before. Images already on disk are
reused, so an interrupted build resumes where it stopped.
"""
import dataclasses
import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from pyiqa_uniqa.data.distortions import ATTRIBUTE_EFFECTS, DISTORTIONS
from pyiqa_uniqa.data.images import UnreadableImageError, read_image
from pyiqa_uniqa.data.photos import load_photos
from pyiqa_uniqa.data.rendering import encode_png, render_distortions, resize_short_side, stable_seed
from pyiqa_uniqa.depictqa import templates
from pyiqa_uniqa.depictqa.records import KIND_IDENTIFY, KIND_RATE_AB, KIND_RATE_LEVEL
from pyiqa_uniqa.errors import InvalidInputError
from pyiqa_uniqa.files import inside_folder, write_file

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
SKIMAGE_PHOTOS = 'skimage'
MIN_SOURCE_SIDE = 16
SINGLE_LEVELS = (1, 2, 3, 4, 5)
MULTI_LEVELS = (1, 2, 3)  # official: two distortions each at severity U{1..3}
SEVERITY_TO_LEVEL_WORD = {0: 'Excellent', 1: 'Good', 2: 'Fair', 3: 'Fair', 4: 'Poor', 5: 'Bad'}


class DQBuildError(InvalidInputError):
    """The images or options given to build-dq cannot make a data set."""


@dataclasses.dataclass
class BuildOptions:
    size: int = 224                 # short side of the pristine photos (downscale only), as DQ-495K
    identify_per_image: int = 40    # per setting (FR / NR)
    pairs_per_image: int = 40
    levels_per_image: int = 20
    settings: tuple = ('fr', 'nr')
    tasks: tuple = (KIND_IDENTIFY, KIND_RATE_AB, KIND_RATE_LEVEL)
    distortions: tuple = None       # None: every distortion of the library
    p_clean: float = 0.05
    p_two: float = 0.5
    p_single_word: float = 0.5
    p_number: float = 0.5
    min_gap: int = 2
    pair_types: str = 'same'        # A/B: 'same' distortion type (or pristine) or 'any' two types
    test_images: int = 0
    seed: int = 0


def _compatible(first, second, effects):
    """Two distortions can be combined when they are different categories that do not undo each other."""
    if templates.distortion_word(first) == templates.distortion_word(second):
        return False
    a, b = effects.get(first, {}), effects.get(second, {})
    return not any(attr in b and b[attr] == -sign for attr, sign in a.items())


class SampleDrawer:
    """Draws the sample specifications of one photo (pure: no image work)."""

    def __init__(self, options, photo, names, effects, test):
        self.options, self.photo, self.names, self.test = options, photo, names, test
        self.effects = effects
        self.rng = random.Random(stable_seed(options.seed, photo))
        self.p_single_word = 1.0 if test else options.p_single_word
        self.p_number = 1.0 if test else options.p_number

    def distortion(self, allow_two=True, allow_clean=True):
        """-> tuple of (name, level); empty for the pristine image."""
        if allow_clean and self.rng.random() < self.options.p_clean:
            return ()
        if allow_two and self.rng.random() < self.options.p_two:
            first = self.rng.choice(self.names)
            partners = [n for n in self.names if _compatible(first, n, self.effects)]
            if partners:
                second = self.rng.choice(partners)
                pair = sorted([(first, self.rng.choice(MULTI_LEVELS)), (second, self.rng.choice(MULTI_LEVELS))])
                return tuple(pair)
        return ((self.rng.choice(self.names), self.rng.choice(SINGLE_LEVELS)),)

    def identify(self, setting):
        combo = self.distortion()
        bank = templates.IDENTIFY_QUESTIONS_FR if setting == 'fr' else templates.IDENTIFY_QUESTIONS_NR
        forms = self.rng.choice(bank)
        count = max(1, len(combo))
        stated = self.rng.random() < self.p_number
        question = forms[count] if stated else forms['generic']
        words = sorted(templates.distortion_word(name) for name, _ in combo)
        if self.rng.random() < self.p_single_word:
            question = templates.with_single_word_tail(question)
            answer = (templates.capitalised(templates.join_distortions(words)) if words
                      else templates.NO_DISTORTION_WORD)
        elif words:
            answer = templates.IDENTIFY_SENTENCE[count if stated else 'generic'].format(
                names=templates.join_distortions(words))
        else:
            answer = templates.NO_DISTORTION_SENTENCE
        return {'kind': KIND_IDENTIFY, 'setting': setting, 'A': combo, 'query': question, 'answer': answer}

    def rate_ab(self, setting):
        while True:  # terminates: severities 0 and >= min_gap are always reachable
            a = self.distortion(allow_two=False)
            b = self.distortion(allow_two=False)
            if self.options.pair_types == 'same' and a and b:
                b = ((a[0][0], b[0][1]),)  # one distortion type at two severities
            if abs(_severity(a) - _severity(b)) >= self.options.min_gap:
                break
        winner = templates.AB_ANSWERS[0] if _severity(a) < _severity(b) else templates.AB_ANSWERS[1]
        question = self.rng.choice(templates.RATE_AB_QUESTIONS)
        if self.rng.random() < self.p_single_word:
            question, answer = templates.with_single_word_tail(question), winner
        else:
            answer = self.rng.choice(templates.RATE_AB_SENTENCES).format(winner=winner)
        return {'kind': KIND_RATE_AB, 'setting': setting, 'A': a, 'B': b, 'query': question, 'answer': answer,
                'A_better_B': _severity(a) < _severity(b)}

    def rate_level(self, setting):
        combo = self.distortion(allow_two=False, allow_clean=False) if self.rng.random() > 0.15 else ()
        level = SEVERITY_TO_LEVEL_WORD[_severity(combo)]
        question = self.rng.choice(templates.RATE_LEVEL_QUESTIONS)
        if self.rng.random() < self.p_single_word:
            question, answer = templates.with_single_word_tail(question), level
        else:
            answer = templates.RATE_LEVEL_SENTENCE.format(level=level.lower())
        return {'kind': KIND_RATE_LEVEL, 'setting': setting, 'A': combo, 'query': question, 'answer': answer,
                'quality_level': level}

    def samples(self):
        counts = {KIND_IDENTIFY: (self.options.identify_per_image, self.identify),
                  KIND_RATE_AB: (self.options.pairs_per_image, self.rate_ab),
                  KIND_RATE_LEVEL: (self.options.levels_per_image, self.rate_level)}
        out = []
        for kind in self.options.tasks:
            number, draw = counts[kind]
            for setting in self.options.settings:
                out.extend(draw(setting) for _ in range(number))
        return out


def _severity(combo):
    return max((level for _, level in combo), default=0)


def _combo_key(combo):
    return '__'.join(f'{name}{level}' for name, level in combo) or 'pristine'


def _distortion_record(combo):
    return [{'distortion_class': templates.distortion_word(n), 'distortion_name': n, 'severity': lvl}
            for n, lvl in combo]


def make_record(sample, photo, index, paths, test):
    """A DQ-495K-format record for one drawn sample."""
    compare = sample['kind'] == KIND_RATE_AB
    fr = sample['setting'] == 'fr'
    task = templates.task_name(compare=compare, reference=fr)
    record = {'id': f"{photo}__{sample['kind']}_{sample['setting']}_{index}",
              'image_ref': paths['pristine'] if fr else None,
              'image_A': paths[_combo_key(sample['A'])],
              'image_B': paths[_combo_key(sample['B'])] if compare else None,
              'task_type': task}
    if test:
        record.update(query=sample['query'], answer=sample['answer'])
    else:
        record['conversations'] = [{'from': 'human', 'value': sample['query']},
                                   {'from': 'gpt', 'value': sample['answer']}]
    if compare:
        record.update(distortions_A=_distortion_record(sample['A']), distortions_B=_distortion_record(sample['B']),
                      A_better_B=sample['A_better_B'])
    elif len(sample['A']) == 2:
        record.update(distortion_classes=[templates.distortion_word(n) for n, _ in sample['A']],
                      distortion_names=[n for n, _ in sample['A']], severities=[lvl for _, lvl in sample['A']])
    else:
        name, level = sample['A'][0] if sample['A'] else (None, 0)
        record.update(distortion_class=templates.distortion_word(name) if name else None,
                      distortion_name=name, severity=level)
    if sample['kind'] == KIND_RATE_LEVEL:
        record['quality_level'] = sample['quality_level']
    return record


# --- images --------------------------------------------------------------------------------------
def list_sources(images):
    """-> [(name, loader)] for a folder (sorted, recursive) or the scikit-image photos."""
    if str(images) == SKIMAGE_PHOTOS:
        return [(name, (lambda array=array: array)) for name, array in load_photos()]
    folder = Path(images)
    if not folder.is_dir():
        problem = 'is a file, not a folder' if folder.exists() else 'does not exist'
        raise DQBuildError(f'--images {folder} {problem}: give a folder of pristine images, or '
                           f'--images {SKIMAGE_PHOTOS} for the photos shipped with scikit-image.')
    files = sorted(p for p in folder.rglob('*') if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DQBuildError(f'--images {folder} holds no images ({", ".join(IMAGE_SUFFIXES)}), even in subfolders.')
    names = [str(p.relative_to(folder).with_suffix('')).replace(os.sep, '__') for p in files]
    return [(name, (lambda path=path: path)) for name, path in zip(names, files)]


def _load_source(loader, size):
    """uint8 HxWx3 with the short side scaled down to ``size`` (never up), or None if unusable."""
    try:
        array = np.asarray(read_image(loader()))
    except (UnreadableImageError, OSError):
        return None
    if min(array.shape[:2]) < MIN_SOURCE_SIDE:
        return None
    return resize_short_side(array, size, upscale=False)


def build(images, out, options=None, progress=True):
    """Write ``out`` (training records) and, with ``test_images``, ``<out stem>_test.json``.

    Returns {'train': path, 'test': path or None, 'skipped': [unusable sources]}. Nothing is created
    when the inputs are wrong; an interrupted build keeps its finished images and resumes.
    """
    options = options or BuildOptions()
    names = tuple(options.distortions or DISTORTIONS)
    unknown = [n for n in names if n not in DISTORTIONS]
    if unknown:
        raise DQBuildError(f'unknown distortions {unknown}; available: {", ".join(DISTORTIONS)}')
    bad = [s for s in options.settings if s not in ('fr', 'nr')] + [
        t for t in options.tasks if t not in (KIND_IDENTIFY, KIND_RATE_AB, KIND_RATE_LEVEL)]
    if bad:  # checked here, not only on the command line: DQ495KDataset's build_dq option builds too
        raise DQBuildError(f'unknown --settings / --tasks value(s) {bad}: settings are fr, nr; tasks are '
                           f'{KIND_IDENTIFY}, {KIND_RATE_AB}, {KIND_RATE_LEVEL}.')
    if options.pair_types not in ('same', 'any'):
        raise DQBuildError(f"pair_types must be 'same' or 'any', not {options.pair_types!r}.")
    # a seeded order independent of the folder listing; the first usable photos are held out
    sources = sorted(list_sources(images), key=lambda source: (stable_seed(options.seed, source[0]), source[0]))
    out = Path(out)
    image_dir = out.parent / f'{out.stem}_images'
    for photo, _ in sources:  # every name is checked before the first folder is made
        inside_folder(image_dir, f'{photo}/pristine.png', source=f'--images {images}')
    created = [folder for folder in (out.parent, image_dir) if not folder.exists()]
    image_dir.mkdir(parents=True, exist_ok=True)
    records = {'train': [], 'test': []}
    skipped, held_out = [], 0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small images: threads cost more in synchronisation than they gain
    try:
        for photo, loader in tqdm(sources, desc='build-dq', unit='photo', disable=not progress):
            test = held_out < options.test_images
            samples = SampleDrawer(options, photo, names, ATTRIBUTE_EFFECTS, test).samples()
            paths = _write_photo_images(photo, loader, samples, image_dir, out.parent, options)
            if paths is None:
                skipped.append(photo)
                continue
            held_out += test
            split = 'test' if test else 'train'
            records[split].extend(make_record(s, photo, i, paths, test) for i, s in enumerate(samples))
    finally:
        torch.set_num_threads(threads)
    if not records['train'] and not records['test']:
        for folder in reversed(created):  # a build that made nothing leaves nothing behind
            shutil.rmtree(folder, ignore_errors=True)
        raise DQBuildError(f'--images {images}: no usable image (unreadable or smaller than {MIN_SOURCE_SIDE} px: '
                           f'{", ".join(skipped)}).')
    _write_json(out, records['train'])
    test_path = None
    if options.test_images:
        test_path = out.with_name(f'{out.stem}_test.json')
        _write_json(test_path, records['test'])
    return {'train': out, 'test': test_path, 'skipped': skipped}


def _write_photo_images(photo, loader, samples, image_dir, root, options):
    combos = {()}
    for sample in samples:
        combos.add(sample['A'])
        if 'B' in sample:
            combos.add(sample['B'])
    targets = {_combo_key(c): inside_folder(image_dir, f'{photo}/{_combo_key(c)}.png') for c in combos}
    paths = {key: path.relative_to(root).as_posix() for key, path in targets.items()}
    todo = [c for c in combos if not targets[_combo_key(c)].is_file()]
    if not todo:
        return paths
    array = _load_source(loader, options.size)
    if array is None:
        return None
    targets['pristine'].parent.mkdir(parents=True, exist_ok=True)
    for combo in sorted(todo):
        # written whole or not at all: an interrupted build resumes from the finished images
        write_file(targets[_combo_key(combo)], encode_png(render_distortions(array, combo, options.seed, photo)))
    return paths


def _write_json(path, records):
    write_file(path, json.dumps(records, indent=1))
