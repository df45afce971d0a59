"""DQ495KDataset reads the public DQ-495K record format (official field names)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from pyiqa_uniqa.depictqa.dataset import DQ495KDataset, DQRecordError, batch_to_requests

# the shapes of released records (KADIS refA brief train, BAPPS AB test, a LAMM description)
RECORDS = [
    {'id': 'kadis_0001', 'image_ref': 'ref/a.png', 'image_A': 'dist/a_noise.png', 'image_B': None,
     'task_type': 'quality_single_A',
     'conversations': [{'from': 'human', 'value': 'What is the primary ONE degradation observed in the evaluated '
                                                 'image relative to the reference? Answer the question using a '
                                                 'single word or phrase.'},
                       {'from': 'gpt', 'value': 'Noise'}],
     'distortion_class': 'noise', 'distortion_name': 'gaussian_noise_color', 'severity': 3},
    {'id': 'bapps_17', 'image_ref': None, 'image_A': 'dist/a_noise.png', 'image_B': 'gray16.png',
     'task_type': 'quality_compare_noref', 'query': 'Which image has better quality?', 'answer': 'Image B',
     'distortions_A': None, 'distortions_B': None, 'A_better_B': False},
    {'id': 'multi', 'image_ref': None, 'image_A': 'big.png', 'image_B': None, 'task_type': 'quality_single_A_noref',
     'conversations': [{'from': 'human', 'value': 'Q1?'}, {'from': 'gpt', 'value': 'A long first answer that goes '
                        'on and on about the blur, the noise and everything else in this picture, well beyond '
                        'the brief limit.'},
                       {'from': 'human', 'value': 'Q2?'}, {'from': 'gpt', 'value': 'Blur'}]},
    {'id': 'lamm_3', 'image': 'coco/1.jpg', 'task_type': 'description',
     'conversations': [{'from': 'human', 'value': 'Describe.'}, {'from': 'gpt', 'value': 'A cat.'}]},
]


@pytest.fixture()
def data_root(tmp_path):
    (tmp_path / 'ref').mkdir()
    (tmp_path / 'dist').mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / 'ref/a.png')
    Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / 'dist/a_noise.png')
    Image.fromarray(rng.integers(0, 65535, (30, 30), dtype=np.uint16)).save(tmp_path / 'gray16.png')
    Image.fromarray(rng.integers(0, 255, (300, 900, 4), dtype=np.uint8)).save(tmp_path / 'big.png')
    (tmp_path / 'meta.json').write_text(json.dumps(RECORDS))
    return tmp_path


def test_records_become_samples_and_requests(data_root):
    dataset = DQ495KDataset({'meta_info_file': str(data_root / 'meta.json'), 'phase': 'val',
                             'resize': 64, 'max_size': 128})
    assert len(dataset) == 3  # the description record is skipped
    first, second, third = dataset[0], dataset[1], dataset[2]
    assert first['kind'] == 'identify' and second['kind'] == 'rate_ab'
    assert third['kind'] == 'identify'  # scored on its last (brief) answer
    assert first['img_ref'].shape == first['img_A'].shape == (3, 40, 50) and first['img_B'].numel() == 0
    assert second['img_B'].shape == (3, 30, 30)  # 16-bit grayscale -> 3 channels
    assert third['img_A'].shape == (3, 43, 128)  # 300x900 RGBA, downscaled by max_size (never upscaled)
    assert 0 <= float(second['img_B'].min()) and float(second['img_B'].max()) <= 1

    batch = torch.utils.data.default_collate([first])  # what pyiqa's DataLoader does
    (request,) = batch_to_requests(batch)
    assert request['task'] == 'quality_single_A' and request['images']['B'] is None
    assert request['turns'] == [(RECORDS[0]['conversations'][0]['value'], 'Noise')]
    assert batch_to_requests(torch.utils.data.default_collate([third]))[0]['turns'][1] == ('Q2?', 'Blur')
    assert batch_to_requests(torch.utils.data.default_collate([second]))[0]['turns'] == [
        ('Which image has better quality?', 'Image B')]


def test_training_crops_and_subsets(data_root):
    dataset = DQ495KDataset({'meta_info_file': str(data_root / 'meta.json'), 'phase': 'train', 'min_size': 16,
                             'max_samples': 2, 'seed': 1})
    assert len(dataset) == 2
    sample = dataset[0]
    height, width = sample['img_A'].shape[1:]
    assert 0.7 * 40 - 1 <= height <= 40 and 0.7 * 50 - 1 <= width <= 50


@pytest.mark.parametrize('bad, message', [
    ({'id': 'x', 'task_type': 'quality_rank', 'image_A': 'a.png', 'query': 'q'}, 'unknown task_type'),
    ({'id': 'y', 'task_type': 'quality_compare', 'image_A': 'a.png', 'image_B': 'b.png', 'query': 'q'}, 'image_ref'),
    ({'id': 'z', 'task_type': 'quality_single_A_noref', 'image_A': 'a.png'}, 'conversations or query'),
])
def test_malformed_records_are_named(tmp_path, bad, message):
    (tmp_path / 'meta.json').write_text(json.dumps([bad]))
    with pytest.raises(DQRecordError, match=message):
        DQ495KDataset({'meta_info_file': str(tmp_path / 'meta.json'), 'phase': 'val'})


def test_json_lines_are_accepted(data_root):
    (data_root / 'meta.jsonl').write_text('\n'.join(json.dumps(r) for r in RECORDS[:2]))
    assert len(DQ495KDataset({'meta_info_file': str(data_root / 'meta.jsonl'), 'phase': 'val'})) == 2
