"""``DQ495KDataset``: DepictQA samples in the public DQ-495K JSON format (``records``), for pyiqa's trainer.

Image paths are relative to ``dataroot_target``. Non-IQA records (``task_type: description``, the
LAMM set) use another prompt layout and are skipped with a logged count. Images are read at load
time with the official downscale-only rule (``resize``/``max_size``) and, when training, the
official random centre crop.

Options (YAML): ``meta_info_file`` (required; one file or a list), ``meta_repeats`` (per file, how
often its records appear per epoch: the official ``meta_paths_weights``), ``dataroot_target``
(default: the first meta file's folder),
``resize``/``max_size``/``min_size``, ``random_crop`` (default: on for phase train),
``max_samples`` + ``seed`` (a seeded subset), ``build_dq`` (a dict of ``BuildOptions`` plus
``images`` and ``out``: run ``build-dq`` when the meta file does not exist yet; for a held-out
``<stem>_test.json`` set ``out`` to the training JSON it is built with).

pyiqa's DataLoader uses the default collate, so a sample holds tensors and strings only; a
missing image is an empty tensor. Samples differ in image size, so use ``batch_size_per_gpu: 1``
(as the official training does).
"""
import json
from pathlib import Path

import torch
from pyiqa.utils import get_root_logger

from pyiqa_uniqa.depictqa.build_dq import BuildOptions, build
from pyiqa_uniqa.depictqa.config import ImageSettings
from pyiqa_uniqa.depictqa.images import downscale, load_image, random_centre_crop
from pyiqa_uniqa.depictqa.records import (
    IMAGE_FIELDS,
    DQRecordError,
    check_record,
    read_records,
    record_kind,
    record_turns,
)
from pyiqa_uniqa.errors import InvalidOptionError


class DQ495KDataset(torch.utils.data.Dataset):
    option_keys = {'dataset': ('resize', 'max_size', 'min_size', 'random_crop', 'max_samples', 'seed', 'build_dq',
                            'meta_repeats')}

    def __init__(self, opt):
        self.opt = opt
        metas = opt['meta_info_file']
        metas = [Path(m).expanduser() for m in (metas if isinstance(metas, (list, tuple)) else [metas])]
        repeats = opt.get('meta_repeats') or [1] * len(metas)
        if len(repeats) != len(metas):
            raise InvalidOptionError(f'meta_repeats has {len(repeats)} entries for {len(metas)} meta files')
        if not metas[0].is_file() and opt.get('build_dq'):
            _build(metas[0], dict(opt['build_dq']))
        for meta in metas:
            if not meta.is_file():
                raise FileNotFoundError(f'DQ495KDataset: meta_info_file {meta} does not exist')
        self.root = Path(opt.get('dataroot_target') or metas[0].parent).expanduser()
        self.phase = opt.get('override_phase', opt.get('phase', 'train'))
        defaults = ImageSettings()
        self.image_settings = ImageSettings(resize=opt.get('resize', defaults.resize),
                                            max_size=opt.get('max_size', defaults.max_size),
                                            min_size=opt.get('min_size', defaults.min_size))
        self.random_crop = opt.get('random_crop', self.phase == 'train')
        records = [record for meta, repeat in zip(metas, repeats) for record in read_records(meta) * int(repeat)]
        quality = [r for r in records if r.get('task_type') != 'description']
        if len(quality) < len(records):
            get_root_logger().info(f'DQ495KDataset: skipped {len(records) - len(quality)} non-IQA '
                                   '(task_type description) records.')
        for record in quality:
            check_record(record)
        if opt.get('max_samples') and opt['max_samples'] < len(quality):
            order = torch.randperm(len(quality), generator=torch.Generator().manual_seed(opt.get('seed', 0)))
            quality = [quality[i] for i in sorted(order[:opt['max_samples']].tolist())]
        if not quality:
            raise DQRecordError(f'{[str(m) for m in metas]}: no quality_* records')
        self.records = quality
        self.generator = torch.Generator().manual_seed(opt.get('seed', 0))

    def __len__(self):
        return len(self.records)

    def _image(self, relative):
        image = downscale(load_image(self.root / relative)[None], self.image_settings)[0]
        if self.random_crop:
            image = random_centre_crop(image, self.image_settings.train_crop, self.image_settings.min_size,
                                       self.generator)
        return image

    def __getitem__(self, index):
        record = self.records[index]
        turns = record_turns(record)
        sample = {'id': str(record.get('id', index)), 'task_type': record['task_type'],
                  'turns': json.dumps(turns), 'kind': record_kind(record, turns[-1][1])}
        for source, field in IMAGE_FIELDS.items():
            sample[f'img_{source}'] = self._image(record[field]) if record.get(field) else torch.zeros(0)
        return sample


def batch_to_requests(batch):
    """A collated batch -> the network's request dicts (images back to per-sample tensors)."""
    requests = []
    for row, task in enumerate(batch['task_type']):
        images = {}
        for source in IMAGE_FIELDS:
            tensor = batch[f'img_{source}'][row]
            images[source] = tensor if tensor.numel() else None
        requests.append({'task': task, 'turns': [tuple(t) for t in json.loads(batch['turns'][row])],
                         'images': images})
    return requests


def _build(meta, options):
    images = options.pop('images', 'skimage')
    out = options.pop('out', meta)  # a test-split meta file is built by building its train file
    for key in ('settings', 'tasks', 'distortions'):
        if isinstance(options.get(key), list):
            options[key] = tuple(options[key])
    build(images, out, BuildOptions(**options), progress=True)
