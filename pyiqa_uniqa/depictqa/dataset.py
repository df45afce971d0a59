"""``DQ495KDataset``: DepictQA samples in the public DQ-495K JSON format, for pyiqa's trainer.

A meta file is a JSON list (or JSON lines) of records:

- ``id``; ``image_ref`` / ``image_A`` / ``image_B``: paths relative to ``dataroot_target`` or null;
- ``task_type``: one of the six ``quality_*`` tasks;
- training records: ``conversations`` = [{"from": "human"|"gpt", "value": ...}, ...];
  test records: ``query`` and ``answer``;
- provenance, kept for evaluation: ``distortion_class``/``distortion_classes``, ``severity``/
  ``severities``, ``distortions_A``/``distortions_B``, ``A_better_B`` (and our ``quality_level``).

Non-IQA records (``task_type: description``, the LAMM set) use another prompt layout and are
skipped with a logged count. Images are read at load time with the official downscale-only rule
(``resize``/``max_size``) and, when training, the official random centre crop.

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

from pyiqa_uniqa.depictqa import templates
from pyiqa_uniqa.depictqa.confidence import is_brief
from pyiqa_uniqa.depictqa.evaluation import KIND_IDENTIFY, KIND_OTHER, KIND_RATE_AB, KIND_RATE_LEVEL
from pyiqa_uniqa.depictqa.images import downscale, load_image, random_centre_crop

IMAGE_FIELDS = {'ref': 'image_ref', 'A': 'image_A', 'B': 'image_B'}


class DQRecordError(ValueError):
    pass


def read_records(path):
    path = Path(path)
    text = path.read_text()
    try:
        records = json.loads(text)
    except json.JSONDecodeError:
        try:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as err:
            raise DQRecordError(f'{path} is neither a JSON list nor JSON lines: {err}') from err
    if not isinstance(records, list):
        raise DQRecordError(f'{path}: expected a list of records, got {type(records).__name__}')
    return records


def record_turns(record):
    """[(question, answer or None), ...] from ``conversations`` or ``query``/``answer``."""
    if 'conversations' in record:
        turns, question = [], None
        for message in record['conversations']:
            speaker, value = message.get('from'), message.get('value')
            if speaker == 'human':
                question = value
            elif speaker == 'gpt' and question is not None:
                turns.append((question, value))
                question = None
        if not turns:
            raise DQRecordError(f"record {record.get('id')}: no human/gpt turn in conversations")
        return turns
    if 'query' in record:
        return [(record['query'], record.get('answer'))]
    raise DQRecordError(f"record {record.get('id')}: needs conversations or query")


def record_kind(record, answer):
    """Which accuracy a record's answer is scored by."""
    if answer is None or not is_brief(answer):
        return KIND_OTHER
    if record['task_type'].startswith('quality_compare'):
        return KIND_RATE_AB
    if 'quality_level' in record:
        return KIND_RATE_LEVEL
    return KIND_IDENTIFY


def check_record(record):
    task = record.get('task_type')
    if task not in templates.TASK_LAYOUTS:
        raise DQRecordError(f"record {record.get('id')}: unknown task_type {task!r}")
    for _, source in templates.TASK_LAYOUTS[task]:
        if not record.get(IMAGE_FIELDS[source]):
            raise DQRecordError(f"record {record.get('id')}: task {task} needs {IMAGE_FIELDS[source]}")
    return record_turns(record)


class DQ495KDataset(torch.utils.data.Dataset):
    option_keys = {'dataset': ('resize', 'max_size', 'min_size', 'random_crop', 'max_samples', 'seed', 'build_dq',
                            'meta_repeats')}

    def __init__(self, opt):
        from pyiqa.utils import get_root_logger

        from pyiqa_uniqa.depictqa.config import ImageSettings
        self.opt = opt
        metas = opt['meta_info_file']
        metas = [Path(m).expanduser() for m in (metas if isinstance(metas, (list, tuple)) else [metas])]
        repeats = opt.get('meta_repeats') or [1] * len(metas)
        if len(repeats) != len(metas):
            raise ValueError(f'meta_repeats has {len(repeats)} entries for {len(metas)} meta files')
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
    from pyiqa_uniqa.depictqa.build_dq import BuildOptions, build
    images = options.pop('images', 'skimage')
    out = options.pop('out', meta)  # a test-split meta file is built by building its train file
    for key in ('settings', 'tasks', 'distortions'):
        if isinstance(options.get(key), list):
            options[key] = tuple(options[key])
    build(images, out, BuildOptions(**options), progress=True)
