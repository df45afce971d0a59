"""build-dq: deterministic, resumable, and every label agrees with the distortion actually applied."""
import json
import re
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from pyiqa_uniqa.depictqa import templates
from pyiqa_uniqa.depictqa.build_dq import SEVERITY_TO_LEVEL_WORD, build


def load(path):
    return json.loads(path.read_text())


def pixels(path):
    return np.asarray(Image.open(path))


def test_output_is_deterministic_and_skips_unreadable_files(built_dq, photo_folder, small_options, tmp_path):
    again = build(photo_folder, tmp_path / 'dq_brief.json', small_options, progress=False)
    assert load(again['train']) == load(built_dq['train'])
    assert load(again['test']) == load(built_dq['test'])
    assert built_dq['skipped'] == ['broken'] == again['skipped']
    root_a, root_b = built_dq['train'].parent, again['train'].parent
    for record in load(built_dq['train'])[::7]:
        assert np.array_equal(pixels(root_a / record['image_A']), pixels(root_b / record['image_A']))


def test_rebuild_restores_a_deleted_image_identically(built_dq, photo_folder, small_options):
    record = next(r for r in load(built_dq['train']) if r['image_B'])
    path = built_dq['train'].parent / record['image_B']
    before = pixels(path)
    path.unlink()
    build(photo_folder, built_dq['train'], small_options, progress=False)
    assert np.array_equal(pixels(path), before)


def test_held_out_photo_and_test_format(built_dq):
    train, test = load(built_dq['train']), load(built_dq['test'])
    train_photos = {r['id'].split('__')[0] for r in train}
    test_photos = {r['id'].split('__')[0] for r in test}
    assert len(test_photos) == 1 and not train_photos & test_photos
    for record in test:
        assert 'conversations' not in record and record['query'].endswith(templates.SINGLE_WORD_TAIL)
        if record['task_type'].startswith('quality_single') and 'quality_level' not in record:
            assert ' ONE ' in record['query'] or ' TWO ' in record['query']  # the count is stated


def test_training_mix_single_word_and_counts_about_half(built_dq):
    identify = [r for r in load(built_dq['train']) if 'quality_level' not in r and r['image_B'] is None]
    single = sum(r['conversations'][0]['value'].endswith(templates.SINGLE_WORD_TAIL) for r in identify)
    stated = sum(' ONE ' in r['conversations'][0]['value'] or ' TWO ' in r['conversations'][0]['value']
                 for r in identify)
    assert 0.3 < single / len(identify) < 0.7 and 0.3 < stated / len(identify) < 0.7


def _combo(record_part):
    return [(d['distortion_name'], d['severity']) for d in record_part]


def test_labels_agree_with_the_applied_distortions(built_dq, small_options):
    from pyiqa_uniqa.data.distortions import apply_distortion
    from pyiqa_uniqa.data.rendering import distortion_seed  # the photo datasets' seeds: same pixels there
    root = built_dq['train'].parent
    records = load(built_dq['train']) + load(built_dq['test'])
    settings = {r['task_type'] for r in records}
    assert settings == {'quality_single_A', 'quality_single_A_noref', 'quality_compare', 'quality_compare_noref'}
    for record in records:
        answer = record['answer'] if 'answer' in record else record['conversations'][1]['value']
        assert (record['image_ref'] is not None) == (not record['task_type'].endswith('_noref'))
        if record['task_type'].startswith('quality_compare'):
            severity = {side: max([d['severity'] for d in record[f'distortions_{side}']], default=0) for side in 'AB'}
            assert abs(severity['A'] - severity['B']) >= 2
            types = {d['distortion_name'] for side in 'AB' for d in record[f'distortions_{side}']}
            assert len(types) <= 1  # one distortion type at two severities, or against the pristine photo
            assert record['A_better_B'] == (severity['A'] < severity['B'])
            assert ('Image A' if record['A_better_B'] else 'Image B') in answer
        elif 'quality_level' in record:
            assert record['quality_level'] == SEVERITY_TO_LEVEL_WORD[record['severity']]
            assert record['quality_level'].lower() in answer.lower()
        elif 'distortion_classes' in record:
            assert len(set(record['distortion_classes'])) == 2 and all(s <= 3 for s in record['severities'])
            if answer == templates.capitalised(' and '.join(sorted(record['distortion_classes']))):
                continue
            assert ' and '.join(sorted(record['distortion_classes'])) in answer
        elif record['distortion_class'] is None:
            assert answer in (templates.NO_DISTORTION_WORD, templates.NO_DISTORTION_SENTENCE)
        else:
            assert record['distortion_class'].lower() in answer.lower()
            assert record['distortion_class'] == templates.distortion_word(record['distortion_name'])
    # the image file is the pristine photo with exactly the recorded distortion(s)
    record = next(r for r in records if r.get('distortion_names'))
    pristine = torch.from_numpy(pixels(root / record['image_ref']).copy()).permute(2, 0, 1).float() / 255
    photo = record['id'].split('__')[0]
    expected = pristine
    for name, level in zip(record['distortion_names'], record['severities']):
        expected = apply_distortion(expected, name, level, seed=distortion_seed(small_options.seed, photo, name, level))
    expected = (expected.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert np.array_equal(pixels(root / record['image_A']), expected)
    assert min(pixels(root / record['image_ref']).shape[:2]) == small_options.size


def test_cli_writes_train_and_test_files(photo_folder, tmp_path, capsys):
    from pyiqa_uniqa.apps.cli import main
    out = tmp_path / 'cli' / 'dq.json'
    assert main(['build-dq', '--images', str(photo_folder), '--out', str(out), '--size', '24',
                 '--identify-per-image', '2', '--pairs-per-image', '2', '--levels-per-image', '0',
                 '--settings', 'nr', '--test-images', '1', '--quiet']) == 0
    printed = capsys.readouterr().out
    assert 'train: 4 samples' in printed and 'test: 4 samples' in printed and 'broken' in printed
    assert all(r['task_type'].endswith('_noref') for r in load(out))


def test_wrong_image_folders_are_one_line_errors_that_create_nothing(tmp_path, capsys):
    from pyiqa_uniqa.apps.cli import main
    unusable = tmp_path / 'unusable'
    unusable.mkdir()
    (unusable / 'broken.jpg').write_bytes(b'\xff\xd8\xff\xe0 not a jpeg')
    (tmp_path / 'a_file.png').write_bytes(b'')
    for images, says in ((tmp_path / 'missing', 'does not exist'), (tmp_path / 'a_file.png', 'is a file'),
                         (unusable, 'no usable image')):
        out = tmp_path / 'new' / 'dq.json'
        assert main(['build-dq', '--images', str(images), '--out', str(out), '--quiet']) == 2
        err = capsys.readouterr().err
        assert err.startswith('pyiqa-uniqa build-dq: error: --images') and says in err and 'Traceback' not in err
        assert not (tmp_path / 'new').exists()  # no empty output folder left behind
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert main(['build-dq', '--images', str(empty), '--out', str(tmp_path / 'new' / 'dq.json')]) == 2
    assert 'holds no images' in capsys.readouterr().err and not (tmp_path / 'new').exists()
    assert main(['build-dq', '--images', 'skimage', '--out', str(tmp_path / 'x.json'), '--tasks', 'rank']) == 2
    assert "unknown --settings / --tasks value(s) ['rank']" in capsys.readouterr().err
    # the same checks when the data set builds its records (build_dq option), before any folder is made
    from pyiqa_uniqa.depictqa.build_dq import BuildOptions, DQBuildError
    for wrong, says in ((BuildOptions(tasks=('identfy',)), "['identfy']"), (BuildOptions(settings=('xx',)), "['xx']"),
                        (BuildOptions(pair_types='some'), "'some'")):
        with pytest.raises(DQBuildError, match=re.escape(says)):
            build('skimage', tmp_path / 'viaoption' / 'dq.json', wrong, progress=False)
        assert not (tmp_path / 'viaoption').exists()


def test_images_are_never_written_through_a_link_out_of_the_output_folder(photo_folder, tmp_path, capsys):
    from pyiqa_uniqa.apps.cli import main
    outside = tmp_path / 'outside'
    outside.mkdir()
    images = tmp_path / 'out' / 'dq_images'
    images.mkdir(parents=True)
    for photo in ('chelsea', 'coffee'):
        (images / photo).symlink_to(outside, target_is_directory=True)
    assert main(['build-dq', '--images', str(photo_folder), '--out', str(tmp_path / 'out' / 'dq.json'), '--quiet']) == 2
    err = capsys.readouterr().err
    assert 'points outside the output folder' in err and 'Traceback' not in err
    assert list(outside.iterdir()) == []


def test_an_unsafe_source_name_is_refused_before_any_folder_is_made(photo_folder, tmp_path, capsys):
    from pyiqa_uniqa.apps.cli import main
    images = tmp_path / 'images'
    shutil.copytree(photo_folder, images)
    shutil.copy(next(images.glob('*.png')), images / '...png')  # its name, less the suffix, is '..'
    out = tmp_path / 'out' / 'dq.json'
    assert main(['build-dq', '--images', str(images), '--out', str(out), '--quiet']) == 2
    err = capsys.readouterr().err
    assert "the name '../pristine.png' points outside" in err and 'Traceback' not in err
    assert not (tmp_path / 'out').exists()  # no dq_images/ left behind
