"""ImageTextDataset through pyiqa's build_dataset: sampling, preprocessing, bad input."""
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pyiqa.data import build_dataset

from pyiqa_uniqa.uniqa_pretrain.captioning_records import CaptionFileError


@pytest.fixture
def caption_root(tmp_path):
    rng = np.random.default_rng(0)
    for name in ('a.png', 'b.png', 'c.png'):
        Image.fromarray(rng.integers(0, 255, (50, 80, 3), dtype=np.uint8)).save(tmp_path / name)
    quality = [{'image': 'a.png', 'task': 'quality', 'caption': 'The quality of the image is good.', 'level_index': 3},
               {'image': 'b.png', 'task': 'quality', 'caption': 'The quality of the image is bad.', 'level_index': 0}]
    aesthetics = [{'image': 'a.png', 'task': 'aesthetics', 'caption': 'Lovely light.'},
                  {'image': 'c.png', 'task': 'aesthetics', 'caption': 'Dull composition.'}]
    (tmp_path / 'quality.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in quality))
    (tmp_path / 'aesthetics.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in aesthetics))
    return tmp_path


def options(root, **extra):
    return {'type': 'ImageTextDataset', 'phase': 'train', 'name': 'pairs', 'dataroot_target': str(root),
            'caption_files': [str(root / '*.jsonl')], 'clip_model': 'tiny-clip-quickgelu', **extra}


def test_build_dataset_gives_clip_sized_images_tokens_and_one_sampled_caption(caption_root):
    dataset = build_dataset(options(caption_root))
    assert len(dataset) == 3  # one item per image, captions of both files merged
    names = [Path(path).name for path, _ in dataset.items]
    item = dataset[names.index('a.png')]
    assert item['img'].shape == (3, 224, 224) and 0 <= item['img'].min() and item['img'].max() <= 1
    assert item['text_tokens'].shape == (77,) and item['text_tokens'].dtype == torch.long
    random.seed(0)
    index = names.index('a.png')
    seen = {dataset[index]['caption'] for _ in range(30)}
    assert seen == {'The quality of the image is good.', 'Lovely light.'}
    only_quality = build_dataset(options(caption_root, tasks=['quality']))
    assert sorted(Path(path).name for path, _ in only_quality.items) == ['a.png', 'b.png']
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=3)))
    assert batch['img'].shape == (3, 3, 224, 224) and batch['text_tokens'].shape == (3, 77)


def test_missing_images_fail_clearly_or_are_skipped(caption_root):
    (caption_root / 'c.png').unlink()
    with pytest.raises(FileNotFoundError, match='1 of 3 images .* missing .*c.png'):
        build_dataset(options(caption_root))
    assert len(build_dataset(options(caption_root, missing_images='skip'))) == 2


def test_damaged_lines(caption_root):
    path = caption_root / 'quality.jsonl'
    path.write_text(path.read_text() + '{"image": "c.png", "capt')  # torn by a killed writer: ignored
    assert len(build_dataset(options(caption_root))) == 3
    lines = path.read_text().splitlines()
    path.write_text('\n'.join([lines[0], 'garbage', lines[1]]) + '\n')
    with pytest.raises(CaptionFileError, match=r'quality.jsonl:2: not a JSON object'):
        build_dataset(options(caption_root))
    assert len(build_dataset(options(caption_root, bad_lines='skip'))) == 3
    with pytest.raises(ValueError, match='bad_lines must be one of'):
        build_dataset(options(caption_root, bad_lines='ignore'))
    (caption_root / 'aesthetics.jsonl').write_text(json.dumps({'image': 'a.png'}) + '\n')
    with pytest.raises(ValueError, match='lacks a string "image" or "caption"'):
        build_dataset(options(caption_root, bad_lines='skip'))


def test_each_caption_file_can_have_its_own_image_root(caption_root):
    other = caption_root / 'other_root'
    other.mkdir()
    (caption_root / 'c.png').rename(other / 'c.png')
    dataset = build_dataset(options(caption_root, caption_files=[
        str(caption_root / 'quality.jsonl'),
        {'file': str(caption_root / 'aesthetics.jsonl'), 'dataroot': str(other)},
    ], missing_images='skip'))
    paths = sorted(path for path, _ in dataset.items)
    # a.png of the aesthetics file is looked for under other_root (missing there, skipped)
    assert paths == sorted([str(caption_root / 'a.png'), str(caption_root / 'b.png'), str(other / 'c.png')])
