"""Pseudo-labelling: exactly-once after a kill, torn lines, shards, unreadable images, merge."""
import csv

import pytest

from pyiqa_uniqa.apps import label
from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.attiqa.image_sources import list_images


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the labeller may swallow it."""


def rows_of(path):
    with open(path, newline='') as handle:
        return list(csv.reader(handle))[1:]


def test_listing_is_recursive_sorted_and_from_csv(image_folder, tmp_path):
    root, paths = list_images(image_folder)
    assert root == image_folder and paths == sorted(paths) and 'sub/00_astronaut.png' in paths and len(paths) == 10
    listing = tmp_path / 'list.csv'
    listing.write_text('name\n' + '\n'.join(paths[:3]) + '\n')
    assert list_images(listing, image_folder) == (image_folder, paths[:3])
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path / 'missing')


def test_killed_run_resumes_with_every_image_labelled_exactly_once(image_folder, tiny_scorer, tmp_path, monkeypatch):
    _, paths = list_images(image_folder)
    reference = tmp_path / 'reference'
    label.label_shard(tiny_scorer, image_folder, paths, reference / 'l.csv', reference / 'f.csv', batch_size=3,
                      progress=False)
    expected = {row[0]: row for row in rows_of(reference / 'l.csv')}

    calls = []

    class KillOnThirdBatch:
        size = tiny_scorer.size

        def __call__(self, images):
            calls.append(len(images))
            if len(calls) == 3:
                raise Killed
            return tiny_scorer(images)

    run = tmp_path / 'run'
    with pytest.raises(Killed):
        label.label_shard(KillOnThirdBatch(), image_folder, paths, run / 'l.csv', run / 'f.csv', batch_size=3,
                          progress=False)
    done_before = rows_of(run / 'l.csv')
    assert len(done_before) == 6  # two flushed batches survive the kill
    with open(run / 'l.csv', 'a') as handle:
        handle.write('sub/06_rocket.png,0.12')  # the torn line a kill mid-write leaves

    scored = []

    class Counting:
        size = tiny_scorer.size

        def __call__(self, images):
            scored.append(len(images))
            return tiny_scorer(images)

    labelled, failed, skipped = label.label_shard(Counting(), image_folder, paths, run / 'l.csv', run / 'f.csv',
                                                  batch_size=3, progress=False)
    assert (skipped, labelled, failed) == (6, len(paths) - 7, 1)
    assert sum(scored) == len(paths) - 7  # only the images not done before the kill are scored again
    final = rows_of(run / 'l.csv')
    names = [row[0] for row in final] + [row[0] for row in rows_of(run / 'f.csv')]
    assert sorted(names) == sorted(paths) and len(names) == len(set(names))
    assert {row[0]: row for row in final} == expected  # same values as an uninterrupted run
    assert [row[0] for row in rows_of(run / 'f.csv')] == ['zz_truncated.png']


def test_command_with_two_shards_merges_into_a_pyiqa_meta_info(image_folder, tmp_path, capsys):
    import pandas as pd

    from pyiqa_uniqa.apps.cli import main
    out = tmp_path / 'attrs.csv'
    common = ['label', '--images', str(image_folder), '--out', str(out), '--model-name', 'tiny-clip-quickgelu',
              '--backbone-weights', 'random', '--batch-size', '4', '--num-workers', '0', '--no-progress']
    main(common + ['--shard', '1/2'])
    assert not out.exists() and 'still running' in capsys.readouterr().out
    main(common + ['--shard', '0/2'])
    table = pd.read_csv(out)
    assert list(table.columns) == ['image_path', *ATTRIBUTES, 'split']
    _, paths = list_images(image_folder)
    assert table['image_path'].tolist() == [p for p in paths if p != 'zz_truncated.png']
    assert table[list(ATTRIBUTES)].to_numpy().min() >= 0 and table[list(ATTRIBUTES)].to_numpy().max() <= 1
    assert pd.read_csv(label.failed_path_for(out))['image_path'].tolist() == ['zz_truncated.png']
    capsys.readouterr()
    assert main(common + ['--shard', '0/3']) == 2  # a user error: message, exit status 2
    assert 'different job' in capsys.readouterr().err


def test_pretraining_dataset_reads_the_labels(image_folder, tmp_path):
    from pyiqa_uniqa.attiqa.dataset import AttributeLabelDataset
    meta = tmp_path / 'attrs.csv'
    meta.write_text('image_path,' + ','.join(ATTRIBUTES) + ',split\n01_chelsea.png,0.1,0.2,0.3,0.4,0.5,train\n'
                    '02_coffee.png,0.5,0.5,0.5,0.5,0.5,val\n')
    dataset = AttributeLabelDataset({'dataroot_target': str(image_folder), 'meta_info_file': str(meta),
                                     'split_index': 'split', 'phase': 'train'})
    item = dataset[0]
    assert len(dataset) == 1 and item['img'].shape[0] == 3
    assert item['attributes'].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    meta.write_text('image_path,sharpness\n01_chelsea.png,0.1\n')
    with pytest.raises(ValueError, match='brightness'):
        AttributeLabelDataset({'dataroot_target': str(image_folder), 'meta_info_file': str(meta)})


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# (what the user gives as --images, relative to tmp_path) -> (error type, what the message says)
BAD_IMAGE_LISTS = {
    'missing folder': (lambda tmp: tmp / 'nowhere', 'InputNotFoundError', '--images .*nowhere: no such folder'),
    'empty folder': (lambda tmp: (tmp / 'empty').mkdir() or tmp / 'empty', 'InputError', 'holds no images'),
    'header-only CSV': (lambda tmp: _write(tmp / 'list.csv', 'name\n'), 'InputError', 'lists no images'),
    'CSV of missing images': (lambda tmp: _write(tmp / 'list.csv', 'name\na.png\nb.png\n'), 'InputError',
                              'none of its 2 images exists.*--image-root'),
    'CSV path climbing out': (lambda tmp: _write(tmp / 'in' / 'list.csv', 'name\n../secret.png\n'),
                              'UnsafePathError', r"row 2.*'\.\./secret\.png'"),
    'CSV absolute path': (lambda tmp: _write(tmp / 'list.csv', 'name\n/etc/passwd\n'), 'UnsafePathError',
                          'absolute path'),
}


@pytest.mark.parametrize('case', BAD_IMAGE_LISTS)
def test_bad_image_lists_are_named_before_clip_loads(case, tmp_path, monkeypatch, capsys):
    import re

    from pyiqa_uniqa.apps.cli import main
    from pyiqa_uniqa.errors import UserError
    make, error, message = BAD_IMAGE_LISTS[case]
    source = make(tmp_path)
    monkeypatch.setattr(label, 'build_clip_from_args',
                        lambda *a: pytest.fail('CLIP loaded before the inputs were checked'))
    args = ['label', '--images', str(source), '--out', str(tmp_path / 'out' / 'attrs.csv'), '--no-progress']
    assert main(args) == 2
    assert re.search(message, capsys.readouterr().err)
    with pytest.raises(UserError, match=message) as info:
        main(['--debug', *args])
    assert type(info.value).__name__ == error
    assert not (tmp_path / 'out').exists()


def test_a_job_that_labels_nothing_fails_and_leaves_nothing(tmp_path, capsys):
    import re

    from pyiqa_uniqa.apps.cli import main
    _write(tmp_path / 'img' / 'a.png', 'not an image')
    _write(tmp_path / 'img' / 'b.png', 'not an image either')
    listing = _write(tmp_path / 'list.csv', 'name\na.png\nb.png\n')
    out = tmp_path / 'attrs.csv'
    status = main(['label', '--images', str(listing), '--image-root', str(tmp_path / 'img'), '--out', str(out),
                   '--model-name', 'tiny-clip-quickgelu', '--backbone-weights', 'random', '--num-workers', '0',
                   '--no-progress'])
    assert status == 2 and re.search('none of the 2 images could be read.*a.png', capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['img', 'list.csv']  # no output, no parts to resume


def test_half_precision_labels_stay_close_to_fp32(tiny_scorer):
    import torch

    from pyiqa_uniqa.attiqa.clip_scorer import CLIPAttributeScorer
    from pyiqa_uniqa.attiqa.prompt_bank import DEFAULT_PAIRS
    from pyiqa_uniqa.backbones import get_tokenizer
    half = CLIPAttributeScorer(tiny_scorer.clip, get_tokenizer('tiny-clip-quickgelu'), DEFAULT_PAIRS, precision='bf16')
    images = torch.rand(4, 3, 64, 80, generator=torch.Generator().manual_seed(0))
    reference, labels = tiny_scorer(images), half(images)
    assert not torch.equal(labels, reference) and (labels - reference).abs().max() < 0.02


def test_a_bad_backbone_weights_leaves_no_manifest_and_the_corrected_retry_runs(image_folder, tmp_path, capsys):
    from pyiqa_uniqa.apps.cli import main
    out = tmp_path / 'attrs.csv'
    common = ['label', '--images', str(image_folder), '--out', str(out), '--model-name', 'tiny-clip-quickgelu',
              '--batch-size', '4', '--num-workers', '0', '--no-progress']
    assert main(common + ['--backbone-weights', str(tmp_path / 'no_such.pt')]) == 2
    assert 'no_such.pt' in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no parts folder, no manifest
    assert main(common + ['--backbone-weights', 'random']) == 0
    assert out.is_file()


def test_an_image_changed_since_it_was_labelled_is_labelled_again(image_folder, tmp_path, capsys):
    import shutil

    import pandas as pd
    from PIL import Image

    from pyiqa_uniqa.apps.cli import main
    images = tmp_path / 'images'
    shutil.copytree(image_folder, images)
    out = tmp_path / 'attrs.csv'
    argv = ['label', '--images', str(images), '--out', str(out), '--model-name', 'tiny-clip-quickgelu',
            '--backbone-weights', 'random', '--batch-size', '4', '--num-workers', '0', '--no-progress']
    assert main(argv) == 0
    before = pd.read_csv(out).set_index('image_path')
    changed = before.index[0]
    Image.new('RGB', (64, 64), 'white').save(images / changed)  # new content under the same name
    capsys.readouterr()
    assert main(argv) == 0
    assert '1 image(s) changed since they were labelled' in capsys.readouterr().err
    after = pd.read_csv(out).set_index('image_path')
    assert list(after.index) == list(before.index)  # one row per image still
    assert not after.loc[changed, list(ATTRIBUTES)].equals(before.loc[changed, list(ATTRIBUTES)])
    assert after.drop(changed).equals(before.drop(changed))


def test_ctrl_c_says_how_many_labels_are_saved(image_folder, tmp_path, monkeypatch, capsys):
    from pyiqa_uniqa.apps.cli import main
    real, calls = label.CLIPAttributeScorer.__call__, []

    def interrupted_on_the_second_batch(self, images):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, images)
    monkeypatch.setattr(label.CLIPAttributeScorer, '__call__', interrupted_on_the_second_batch)
    assert main(['label', '--images', str(image_folder), '--out', str(tmp_path / 'attrs.csv'), '--model-name',
                 'tiny-clip-quickgelu', '--backbone-weights', 'random', '--batch-size', '4', '--num-workers', '0',
                 '--no-progress']) == 130
    assert 'interrupted: 4 rows saved to the journal' in capsys.readouterr().err
