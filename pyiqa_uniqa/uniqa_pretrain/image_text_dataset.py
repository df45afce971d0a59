"""``ImageTextDataset``: image-caption pairs from caption JSONL files, for CLIP-style pre-training.

One item per image; each time an image is drawn, one of its captions is sampled (so each epoch
sees one caption per image, as the official ``train_clip`` dataset does). Images go through the
backbone's own evaluation preprocessing (resize the short side, centre crop; pixel values stay in
[0, 1], the network normalises), captions through its tokenizer (truncated to the context length),
both chosen by ``clip_model``.

Options (pyiqa dataset style)::

    type: ImageTextDataset
    caption_files:                        # paths or globs, or {file, dataroot} for a file with its own image root
      - {file: flive_caps.jsonl, dataroot: ./datasets/FLIVE_Database/database}
      - {file: ava_*.jsonl, dataroot: ./datasets/AVA_dataset/ava_images}
    dataroot_target: ./datasets           # image root of entries given as plain paths
    clip_model: ViT-B-16-quickgelu        # tokenizer and preprocessing
    tasks: [quality, aesthetics]          # keep records of these tasks (default: all)
    crop: center                          # center (official train_clip) | random (60-100% area crops)
                                          # | native (a crop of the input size at the file's own scale)
    hflip: false
    cache_images: false                   # keep decoded images in memory (small datasets read every epoch)
    missing_images: error                 # error | skip (checked once, at start)
    bad_lines: error                      # error | skip damaged JSONL lines (a torn last line is always skipped)
"""
import logging
import random
from collections import OrderedDict
from pathlib import Path

from torch.utils.data import Dataset
from torchvision import transforms
from torchvision.transforms import functional

from pyiqa_uniqa.backbones import clip_model_config, get_tokenizer
from pyiqa_uniqa.data.images import read_image
from pyiqa_uniqa.uniqa_pretrain.captioning_records import (
    CaptionFileError,
    MissingImagesError,
    expand_caption_paths,
    read_records,
)

logger = logging.getLogger('pyiqa_uniqa')


def clip_preprocess(model_name, crop='center', hflip=False):
    """open_clip's evaluation resize and centre crop for ``model_name``, giving [0, 1] tensors.

    The mean/std normalisation is left to the network, as in every pyiqa metric, so the same
    network scores pyiqa's own datasets (validation) and these pairs (training) alike.
    ``crop='random'`` takes a random crop of 60-100% of the area instead (at most a 1.3x zoom,
    so blur and noise keep their scale), for small datasets that would otherwise be memorised.
    ``crop='native'`` takes a random crop of the input size without any resizing, what the
    downstream adapter sees (pyiqa's ``random_crop``): pixel-level distortions keep their exact
    scale, and a model with a small input sees many different crops of each image (a smaller
    image is first upscaled so its short side fits).
    """
    size = clip_model_config(model_name)['vision_cfg']['image_size']
    bicubic = transforms.InterpolationMode.BICUBIC
    steps = {'center': [transforms.Resize(size, interpolation=bicubic, antialias=True), transforms.CenterCrop(size)],
             'random': [transforms.RandomResizedCrop(size, scale=(0.6, 1.0), interpolation=bicubic, antialias=True)],
             'native': [_UpscaleShortSide(size, bicubic), transforms.RandomCrop(size)]}
    if crop not in steps:
        raise CaptionFileError(f'ImageTextDataset option crop must be center, random or native, not {crop!r}.')
    return transforms.Compose(steps[crop] + ([transforms.RandomHorizontalFlip()] if hflip else [])
                              + [transforms.ToTensor()])


class _UpscaleShortSide:
    """Upscale a PIL image whose short side is below ``size`` (larger ones pass unchanged)."""

    def __init__(self, size, interpolation):
        self.size, self.interpolation = size, interpolation

    def __call__(self, image):
        return functional.resize(image, self.size, self.interpolation) if min(image.size) < self.size else image


def group_captions(records, tasks=None, source=''):
    """image -> list of caption records (records without an image or caption are rejected)."""
    grouped = OrderedDict()
    for number, record in enumerate(records, start=1):
        if not isinstance(record.get('image'), str) or not isinstance(record.get('caption'), str):
            raise CaptionFileError(f'{source} record {number} lacks a string "image" or "caption": {record}')
        if tasks and record.get('task') not in tasks:
            continue
        if record['caption'].strip():
            grouped.setdefault(record['image'], []).append(record)
    return grouped


class ImageTextDataset(Dataset):
    option_keys = {'dataset': {'caption_files', 'clip_model', 'tasks', 'missing_images', 'bad_lines', 'crop', 'hflip',
                               'cache_images'}}

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        self.clip_model = opt.get('clip_model', 'ViT-B-16-quickgelu')
        tasks = opt.get('tasks')
        bad_lines = _choice(opt, 'bad_lines', ('error', 'skip'))
        grouped, files = OrderedDict(), []
        for pattern, root in self._caption_sources(opt):
            for path in expand_caption_paths(pattern):
                files.append(path)
                records, problems = read_records(path, on_bad_line='raise' if bad_lines == 'error' else 'skip')
                for problem in problems:
                    logger.warning(f'ImageTextDataset: {problem}')
                for image, captions in group_captions(records, tasks, source=path).items():
                    grouped.setdefault(str(_resolve(root, image)), []).extend(captions)
        self.items = self._check_images(list(grouped.items()), _choice(opt, 'missing_images', ('error', 'skip')))
        if not self.items:
            raise CaptionFileError(f'No image-caption pairs in {files} (tasks: {tasks or "all"}).')
        self.tokenizer = get_tokenizer(self.clip_model)
        self.transform = clip_preprocess(self.clip_model, opt.get('crop', 'center'), opt.get('hflip', False))
        self.cache = {} if opt.get('cache_images', False) else None
        logger.info(f'ImageTextDataset: {len(self.items)} images, '
                    f'{sum(len(c) for _, c in self.items)} captions from {len(files)} file(s).')

    @classmethod
    def missing_inputs(cls, opt):
        """For the train preflight: one line per caption file or image root that is not there."""
        problems = []
        try:
            sources = list(cls._caption_sources(opt))
        except CaptionFileError as err:
            return [str(err)]
        for pattern, root in sources:
            try:
                expand_caption_paths(pattern)
            except CaptionFileError as err:
                problems.append(f'{err} Write caption files with `pyiqa-uniqa caption` (and `pyiqa-uniqa purify` '
                                'for human comments), or fix caption_files.')
            if not Path(root).expanduser().is_dir():
                problems.append(f'the image folder {root} of {pattern} does not exist.')
        return problems

    @staticmethod
    def _caption_sources(opt):
        """(file or glob, image root) pairs: an entry is a path, or {file: ..., dataroot: ...} for its own root."""
        default_root = opt.get('dataroot_target') or '.'
        entries = opt['caption_files']
        for entry in [entries] if isinstance(entries, (str, dict)) else entries:
            if isinstance(entry, dict):
                if 'file' not in entry:
                    raise CaptionFileError(f'caption_files entry {entry} needs a "file" (and optionally a "dataroot").')
                yield entry['file'], entry.get('dataroot', default_root)
            else:
                yield entry, default_root

    def _check_images(self, items, policy):
        missing = [path for path, _ in items if not Path(path).is_file()]
        if not missing:
            return items
        message = (f'{len(missing)} of {len(items)} images named in the caption files are missing '
                   f'(first: {", ".join(missing[:5])}).')
        if policy == 'error':
            raise MissingImagesError(message + ' Fix dataroot_target (or the dataroot of that caption file), '
                                    'or set missing_images: skip.')
        logger.warning(message + ' They are skipped.')
        missing = set(missing)
        return [(path, captions) for path, captions in items if path not in missing]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        path, captions = self.items[index]
        # python's random is seeded per worker by pyiqa's worker_init_fn (and by the run seed)
        record = captions[random.randrange(len(captions))]
        tensor = self.transform(self._image(path))
        tokens = self.tokenizer([record['caption']])[0]
        return {'img': tensor, 'text_tokens': tokens, 'caption': record['caption'], 'img_path': path}


    def _image(self, path):
        if self.cache is None:
            return read_image(path)
        if path not in self.cache:
            self.cache[path] = read_image(path)  # decoded once; the transforms return new images
        return self.cache[path]


def _resolve(root, image):
    path = Path(image).expanduser()
    return path if path.is_absolute() else Path(root).expanduser() / path


def _choice(opt, key, allowed):
    value = opt.get(key, allowed[0])
    if value not in allowed:
        raise CaptionFileError(f'ImageTextDataset option {key} must be one of {allowed}, not {value!r}.')
    return value
