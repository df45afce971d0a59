"""CarvedSplitNRDataset: validation carved from train, few-label subsets, FR served as NR."""
from pathlib import Path

import pytest

from pyiqa_uniqa.testing.toy_datasets import write_toy_iqa_dataset


def build(root, kind='nr', **options):
    from pyiqa.data import build_dataset

    opt = {'name': 'toy', 'type': 'CarvedSplitNRDataset',
           'base_type': 'GeneralFRDataset' if kind == 'fr' else 'GeneralNRDataset',
           'dataroot_target': str(root), 'meta_info_file': str(root / 'meta.csv'), 'split_file': str(root / 'split.pkl'),
           'mos_range': [0, 19], 'lower_better': False, 'mos_normalize': True, 'phase': 'train', **options}
    return build_dataset(opt)


def mos_of(dataset):
    return sorted(round(m * 19) for _, m in dataset.items)


@pytest.fixture()
def nr_root(tmp_path):
    write_toy_iqa_dataset(tmp_path, 'nr')
    return tmp_path


def test_val_is_carved_from_train_and_disjoint(nr_root):
    train, val = build(nr_root), build(nr_root, phase='val')
    assert len(val) == 2 and len(train) == 14
    assert set(mos_of(train)) | set(mos_of(val)) == set(range(16))
    assert not set(mos_of(train)) & set(mos_of(val))
    assert mos_of(build(nr_root, phase='val')) == mos_of(val)  # deterministic
    assert mos_of(build(nr_root, phase='val', carve_seed=7)) != mos_of(val)


def test_few_label_subsets_are_seeded_and_stay_out_of_val(nr_root):
    val = set(mos_of(build(nr_root, phase='val')))
    five = build(nr_root, num_labels=5)
    assert len(five) == 5 and not set(mos_of(five)) & val
    assert mos_of(build(nr_root, num_labels=5)) == mos_of(five)
    assert mos_of(build(nr_root, num_labels=5, label_seed=1)) != mos_of(five)
    with pytest.raises(ValueError, match='only 14 training images'):
        build(nr_root, num_labels=50)


def test_test_split_only_when_asked(nr_root):
    held_out = build(nr_root, phase='val', source_phase='val', part='all')
    assert mos_of(held_out) == [16, 17, 18, 19]
    item = held_out[0]
    assert item['img'].shape == (3, 40, 48) and 0 <= item['mos_label'].item() <= 1


def test_full_reference_sets_are_served_as_no_reference(tmp_path):
    write_toy_iqa_dataset(tmp_path, 'fr')
    item = build(tmp_path, 'fr', augment={'hflip': True, 'random_crop': 32})[0]
    assert set(item) == {'img', 'mos_label', 'img_path'} and item['img'].shape == (3, 32, 32)
    assert 'img/0.png' not in item['img_path'] or item['mos_label'].item() == 0


def test_unreadable_image_error_names_the_file(nr_root):
    dataset = build(nr_root, phase='val', source_phase='val', part='all')
    path = dataset.items[0][0]
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:len(data) // 2])
    with pytest.raises(OSError, match=path):
        dataset[0]
