"""pyiqa-uniqa caption: levels, prompts, template and Hugging Face captioners, resume, shards, bad input."""
import json
import re

import numpy as np
import pytest

from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.uniqa_pretrain.caption_prompts import CaptionPrompts, mos_levels
from pyiqa_uniqa.apps.caption import (
    caption_images,
    read_image_table,
    shard_output_path,
)
from pyiqa_uniqa.uniqa_pretrain.captioning_models import VisionLanguageCaptioner, build_captioner
from pyiqa_uniqa.uniqa_pretrain.captioning_records import CaptionFileError, read_records


def records(path):
    return read_records(path)[0]


def test_levels_are_equal_width_bins_over_the_score_range():
    assert mos_levels([0, 19.9, 20, 39.9, 40, 60, 80, 100]).tolist() == [0, 0, 1, 1, 2, 3, 4, 4]
    # the bins span the range, not the percentiles: a skewed distribution fills the top bins unevenly
    assert mos_levels([1, 1, 1, 1, 10]).tolist() == [0, 0, 0, 0, 4]
    assert mos_levels([1, 2, 3], lower_better=True).tolist() == [4, 2, 0]
    assert mos_levels([5, 5]).tolist() == [2, 2]
    # data-kit MOS 1 - level/6: exact bin edges land in the upper bin
    assert mos_levels([1 - lv / 6 for lv in (0, 1, 2, 3, 4, 5)]).tolist() == [4, 4, 3, 2, 1, 0]
    with pytest.raises(ValueError, match='finite'):
        mos_levels([1.0, np.nan])


def test_prompts_carry_the_level_and_the_quality_factors():
    prompts = CaptionPrompts.load()
    text = prompts.prompt('quality', 1)
    assert 'poor' in text and 'sharpness' in text and 'noise' in text
    assert 'composition' in prompts.prompt('aesthetics', 4) and 'perfect' in prompts.prompt('aesthetics', 4)
    with pytest.raises(ValueError, match='Unknown captioning task'):
        prompts.prompt('colour', 0)


def test_template_captions_from_level_and_distortion_columns(image_table, tmp_path):
    out = tmp_path / 'caps.jsonl'
    assert main(['caption', '--data', str(image_table), '--task', 'quality', '--model', 'template',
                 '--out', str(out), '--no-progress']) == 0
    got = {r['image']: r for r in records(out)}
    assert len(got) == 12
    first, last = got['images/img_00.png'], got['images/img_11.png']
    assert (first['level'], first['level_index'], first['mos']) == ('bad', 0, 0.0)
    assert first['caption'] == 'The quality of the image is bad. It shows no visible distortion.'
    assert last['level'] == 'perfect'
    assert last['caption'] == 'The quality of the image is perfect. It shows mild JPEG compression artefacts.'
    assert set(first) == {'image', 'level', 'level_index', 'mos', 'task', 'model', 'prompt', 'caption', 'file'}
    assert first['model'] == 'template' and first['task'] == 'quality'


def test_shards_partition_the_images_and_share_the_level_bins(image_table, tmp_path):
    out = tmp_path / 'caps.jsonl'
    for i in range(3):
        main(['caption', '--data', str(image_table), '--task', 'quality', '--model', 'template',
              '--out', str(out), '--shard', f'{i}/3', '--no-progress'])
    shards = [records(shard_output_path(out, i, 3)) for i in range(3)]
    images = [r['image'] for shard in shards for r in shard]
    assert sorted(images) == sorted(f'images/img_{i:02d}.png' for i in range(12))  # all, none twice
    full_levels = {row.image: row.level for row in read_image_table(image_table)}
    assert all(r['level_index'] == full_levels[r['image']] for shard in shards for r in shard)


def test_split_option_captions_one_split_with_bins_over_all_rows(image_table, tmp_path):
    out = tmp_path / 'caps.jsonl'
    main(['caption', '--data', str(image_table), '--task', 'quality', '--model', 'template', '--split', 'val',
          '--out', str(out), '--no-progress'])
    assert [r['image'] for r in records(out)] == [f'images/img_{i:02d}.png' for i in (9, 10, 11)]
    assert [r['level'] for r in records(out)] == ['perfect', 'perfect', 'perfect']


def test_tiny_llava_killed_mid_run_resumes_with_every_image_exactly_once(image_table, tiny_llava, tmp_path,
                                                                        monkeypatch, capsys):
    out = tmp_path / 'caps.jsonl'
    command = ['caption', '--data', str(image_table), '--task', 'aesthetics', '--model', str(tiny_llava),
               '--out', str(out), '--batch-size', '4', '--max-new-tokens', '6', '--no-progress']
    real_caption, calls = VisionLanguageCaptioner.caption, []

    def killed_on_second_batch(self, requests):
        calls.append(len(requests))
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies while generating batch 2
        return real_caption(self, requests)

    monkeypatch.setattr(VisionLanguageCaptioner, 'caption', killed_on_second_batch)
    assert main(command) == 130  # the CLI's status for Ctrl-C
    assert '4 rows saved to the journal' in capsys.readouterr().err
    assert len(records(out)) == 4  # batch 1 was flushed before the kill
    with open(out, 'a') as f:  # and a write torn by the kill: half a record, no newline
        f.write('{"image": "images/img_04.png", "level": "po')
    monkeypatch.setattr(VisionLanguageCaptioner, 'caption', real_caption)
    assert main(command) == 0
    final = records(out)
    assert sorted(r['image'] for r in final) == sorted(f'images/img_{i:02d}.png' for i in range(12))
    assert out.read_text().count('\n') == 12  # the torn line was cut, not left inside the file
    sample = final[-1]
    assert sample['model'] == str(tiny_llava) and sample['task'] == 'aesthetics'
    assert sample['level'] in sample['prompt'] and 'composition' in sample['prompt']
    assert isinstance(sample['caption'], str)
    assert main(command) == 0 and len(records(out)) == 12  # a third run has nothing left to do


def test_bad_inputs_are_reported_clearly(image_table, tmp_path, capsys):
    out = tmp_path / 'caps.jsonl'
    base = ['caption', '--data', str(image_table), '--task', 'quality', '--model', 'template', '--no-progress']

    def error(argv):
        """A user mistake: exit status 2 and one error line, no traceback, no output written."""
        capsys.readouterr()
        assert main(argv) == 2
        message = capsys.readouterr().err
        assert message.startswith('pyiqa-uniqa caption: error: ') and 'Traceback' not in message
        return message

    (image_table.parent / 'images/img_03.png').unlink()
    assert re.search('1 image file.*--image-root', error(base + ['--out', str(out)]))
    assert not out.exists()  # nothing half-made
    assert main(base + ['--out', str(out), '--skip-missing']) == 0
    assert len(records(out)) == 11
    # a damaged line in the middle of an existing output is named, never silently dropped
    lines = out.read_text().splitlines()
    lines[2] = '{not json'
    out.write_text('\n'.join(lines) + '\n')
    assert 'caps.jsonl:3: not a JSON object' in error(base + ['--out', str(out), '--skip-missing'])
    # resuming a file written by another task or model is refused
    other = tmp_path / 'other.jsonl'
    other.write_text(json.dumps({'image': 'x.png', 'task': 'aesthetics', 'model': 'template'}) + '\n')
    assert 'already holds captions from task' in error(base + ['--out', str(other), '--skip-missing'])
    assert "no column 'score'" in error(base + ['--out', str(tmp_path / 'x.jsonl'), '--mos-column', 'score'])
    # the library raises the same errors as exceptions a caller can catch
    with pytest.raises(FileNotFoundError, match='1 image file.*--image-root'):
        caption_images(read_image_table(image_table), build_captioner('template', CaptionPrompts.load()), 'quality',
                       tmp_path / 'lib.jsonl')
    with pytest.raises(CaptionFileError, match="no column 'score'"):
        read_image_table(image_table, mos_column='score')


def test_an_unreadable_image_is_reported_and_the_rest_captioned(image_table, tiny_llava, tmp_path, capsys):
    (image_table.parent / 'images/img_05.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    out = tmp_path / 'caps.jsonl'
    rc = main(['caption', '--data', str(image_table), '--task', 'quality', '--model', str(tiny_llava),
               '--out', str(out), '--batch-size', '6', '--max-new-tokens', '2', '--no-progress'])
    assert rc == 1
    assert len(records(out)) == 11 and 'images/img_05.png' not in {r['image'] for r in records(out)}
    assert 'unreadable: images/img_05.png: Cannot read image' in capsys.readouterr().out


def test_a_qwen2_vl_class_model_captions_through_the_same_path(image_table, tiny_qwen2_vl, tmp_path):
    out = tmp_path / 'caps.jsonl'
    assert main(['caption', '--data', str(image_table), '--task', 'quality', '--model', str(tiny_qwen2_vl),
                 '--split', 'val', '--out', str(out), '--batch-size', '2', '--max-new-tokens', '4', '--no-progress']) == 0
    got = records(out)
    assert [r['image'] for r in got] == [f'images/img_{i:02d}.png' for i in (9, 10, 11)]
    assert all(r['model'] == str(tiny_qwen2_vl) and 'sharpness' in r['prompt'] for r in got)


def test_an_image_changed_since_its_caption_is_captioned_again_once(image_table, tmp_path, capsys):
    from PIL import Image
    out = tmp_path / 'caps.jsonl'
    argv = ['caption', '--data', str(image_table), '--task', 'quality', '--model', 'template', '--out', str(out),
            '--no-progress']
    assert main(argv) == 0
    before = {r['image']: r['file']['sha256'] for r in records(out)}
    capsys.readouterr()
    Image.new('RGB', (40, 48), 'red').save(tmp_path / 'images' / 'img_03.png')  # new content, same name
    assert main(argv) == 0
    assert '1 captioned now (1 of them again because the image changed), 11 already done' in capsys.readouterr().out
    after = records(out)
    assert sorted(r['image'] for r in after) == sorted(before)  # still one record per image
    changed = {r['image'] for r in after if r['file']['sha256'] != before[r['image']]}
    assert changed == {'images/img_03.png'}
