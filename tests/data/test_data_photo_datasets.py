import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from pyiqa_uniqa.data import distortions, photo_dataset_types, photo_datasets, rendering
from pyiqa_uniqa.data.photo_datasets import build_fr_dataset, build_nr_dataset, severity_mos
from pyiqa_uniqa.data.rendering import distortion_seed

# small and quick: 4 photos x 2 distortions x 3 levels at 32 px
SMALL = dict(photos=['astronaut', 'chelsea', 'coffee', 'rocket'], distortions=['blur', 'noise'], levels=[1, 3, 5],
             size=32, split_ratios=(0.5, 0.25, 0.25), progress=False)


def _snapshot(root):
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def nr_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('nr')
    build_nr_dataset(root, **SMALL)
    return root


def test_nr_layout_labels_and_pixels(nr_root):
    meta = pd.read_csv(nr_root / 'meta_info.csv')
    assert list(meta.columns[:2]) == ['img_name', 'mos']
    assert {'photo', 'distortion', 'level', 'split'} <= set(meta.columns)
    assert len(meta) == 4 * (1 + 2 * 3)
    assert severity_mos(0) == 1.0
    assert severity_mos(1) == pytest.approx(5 / 6) and severity_mos(5) == pytest.approx(1 / 6)
    for row in meta.itertuples():
        assert row.mos == pytest.approx(severity_mos(row.level))
        assert (row.distortion == 'pristine') == (row.level == 0)
        image = Image.open(nr_root / row.img_name)
        assert image.mode == 'RGB' and min(image.size) == 32

    # a distorted file is exactly the library's output on the stored reference (same seed derivation)
    ref = np.asarray(Image.open(nr_root / 'ref/coffee.png'))
    x = torch.from_numpy(ref.copy()).permute(2, 0, 1).float() / 255
    expected = distortions.apply_distortion(x, 'noise', 3, seed=distortion_seed(0, 'coffee', 'noise', 3))
    expected = (expected.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert np.array_equal(np.asarray(Image.open(nr_root / 'dist/coffee_noise_3.png')), expected)


def test_splits_partition_rows_by_photo(nr_root):
    meta = pd.read_csv(nr_root / 'meta_info.csv')
    split = pickle.loads((nr_root / 'split.pkl').read_bytes())
    assert set(split) == {1} and set(split[1]) == {'train', 'val', 'test'}
    indices = sorted(i for rows in split[1].values() for i in rows)
    assert indices == list(range(len(meta)))
    photos_per_phase = {phase: set(meta.photo[rows]) for phase, rows in split[1].items()}
    assert [len(photos_per_phase[p]) for p in ('train', 'val', 'test')] == [2, 1, 1]
    assert not (photos_per_phase['train'] & (photos_per_phase['val'] | photos_per_phase['test']))
    assert not (photos_per_phase['val'] & photos_per_phase['test'])
    for phase, rows in split[1].items():
        assert (meta.split[rows] == phase).all()


def test_split_assignment_follows_seed_and_ratios():
    photos = list(photo_datasets.PHOTO_NAMES)
    assignments = {tuple(sorted(photo_datasets._photo_phases(photos, (0.6, 0.2, 0.2), seed).items()))
                   for seed in range(6)}
    assert len(assignments) > 1
    phases = list(photo_datasets._photo_phases(photos, (0.6, 0.2, 0.2), 0).values())
    assert [phases.count(p) for p in ('train', 'val', 'test')] == [5, 2, 1]  # 4.8, 1.6, 1.6 by largest remainder
    phases = list(photo_datasets._photo_phases(photos, (0.9, 0.05, 0.05), 0).values())
    assert [phases.count(p) for p in ('train', 'val', 'test')] == [6, 1, 1]  # every non-zero ratio gets a photo
    assert set(photo_datasets._photo_phases(photos, (1, 0, 0), 0).values()) == {'train'}
    with pytest.raises(ValueError, match='cannot fill'):
        photo_datasets._photo_phases(['coffee', 'rocket'], (0.6, 0.2, 0.2), 0)


def test_rebuild_with_same_options_writes_nothing(nr_root):
    before = _snapshot(nr_root)
    paths = build_nr_dataset(nr_root, **SMALL)
    assert _snapshot(nr_root) == before
    # the same options spelt with numpy scalars (as from a config pipeline) are the same dataset
    build_nr_dataset(nr_root, **(SMALL | {'levels': np.array([1, 3, 5]), 'size': np.int64(32)}))
    assert _snapshot(nr_root) == before
    assert paths['meta_info_file'] == str(nr_root / 'meta_info.csv')


def test_other_options_rebuild_and_drop_stale_images(tmp_path):
    build_nr_dataset(tmp_path, **SMALL)
    build_nr_dataset(tmp_path, **(SMALL | {'distortions': ['jpeg'], 'levels': [2]}))
    meta = pd.read_csv(tmp_path / 'meta_info.csv')
    assert set(meta.distortion) == {'pristine', 'jpeg'}
    assert sorted(p.name for p in (tmp_path / 'dist').iterdir()) == sorted(
        f'{photo}_jpeg_2.png' for photo in SMALL['photos'])


def test_interrupted_build_is_resumed_not_used(tmp_path, monkeypatch):
    calls = {'n': 0}
    real = distortions.apply_distortion

    def crash_after_five(*args, **kwargs):
        calls['n'] += 1
        if calls['n'] > 5:
            raise KeyboardInterrupt('killed mid-build')
        return real(*args, **kwargs)

    monkeypatch.setattr(rendering, 'apply_distortion', crash_after_five)
    with pytest.raises(KeyboardInterrupt):
        build_nr_dataset(tmp_path / 'resumed', **SMALL)
    (tmp_path / 'resumed/dist/.coffee_blur_1.png.999.tmp').write_bytes(b'half a png')  # a write cut short
    manifest = json.loads((tmp_path / 'resumed/manifest.json').read_text())
    assert manifest['state'] == 'building'
    assert not (tmp_path / 'resumed/meta_info.csv').exists()

    calls['n'] = -1000  # stop crashing; count what the resumed build computes
    build_nr_dataset(tmp_path / 'resumed', **SMALL)
    assert calls['n'] == -1000 + 4 * 2 * 3 - 5, 'the resumed build should only compute the missing images'
    assert json.loads((tmp_path / 'resumed/manifest.json').read_text())['state'] == 'complete'

    monkeypatch.setattr(distortions, 'apply_distortion', real)
    build_nr_dataset(tmp_path / 'fresh', **SMALL)
    resumed, fresh = _snapshot(tmp_path / 'resumed'), _snapshot(tmp_path / 'fresh')
    assert sorted(resumed) == sorted(fresh)
    for name in fresh:
        if name != 'manifest.json':
            assert resumed[name][1] == fresh[name][1], name


def test_damaged_files_are_regenerated(tmp_path):
    build_nr_dataset(tmp_path, **SMALL)
    good = (tmp_path / 'dist/rocket_noise_5.png').read_bytes()
    (tmp_path / 'dist/rocket_noise_5.png').write_bytes(good[:100])  # truncated
    (tmp_path / 'ref/chelsea.png').unlink()
    build_nr_dataset(tmp_path, **SMALL)
    assert (tmp_path / 'dist/rocket_noise_5.png').read_bytes() == good
    assert Image.open(tmp_path / 'ref/chelsea.png').size[1] == 32


def test_corrupt_manifest_triggers_rebuild(tmp_path):
    build_nr_dataset(tmp_path, **SMALL)
    (tmp_path / 'manifest.json').write_text('{"state": "compl')
    build_nr_dataset(tmp_path, **SMALL)
    assert json.loads((tmp_path / 'manifest.json').read_text())['state'] == 'complete'


def test_refuses_foreign_folders_and_other_kinds(tmp_path):
    (tmp_path / 'foreign/ref').mkdir(parents=True)
    with pytest.raises(FileExistsError, match='no manifest.json'):
        build_nr_dataset(tmp_path / 'foreign', **SMALL)
    build_fr_dataset(tmp_path / 'fr', **SMALL)
    with pytest.raises(ValueError, match='holds a FR dataset'):
        build_nr_dataset(tmp_path / 'fr', **SMALL)


@pytest.mark.parametrize('change,match', [
    ({'distortions': ['fog']}, 'distortions must be'),
    ({'levels': [0, 1]}, 'levels must be'),
    ({'photos': ['camera']}, 'photos must be'),
    ({'size': 0}, 'size must be'),
    ({'size': 32.5}, 'size must be'),
    ({'seed': 1.5}, 'seed must be'),
    ({'split_ratios': (1, 1)}, 'split_ratios must be'),
    ({'split_ratios': (0, 0, 0)}, 'split_ratios must be'),
    ({'split_ratios': (1, float('nan'), 0)}, 'split_ratios must be'),
    ({'levels': [True]}, 'levels must be'),
    ({'photos': ['coffee']}, 'cannot fill'),
])
def test_bad_builder_options(tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        build_nr_dataset(tmp_path / 'ds', **(SMALL | change))
    assert not (tmp_path / 'ds').exists()


def test_nr_dataset_type_through_pyiqa(tmp_path):
    from pyiqa.data import build_dataset
    from pyiqa.data.general_nr_dataset import GeneralNRDataset

    root = tmp_path / 'nr'
    opt = {'name': 'photos', 'type': 'PhotoDistortionNRDataset', 'dataroot_target': str(root),
           'build_opts': {k: v for k, v in SMALL.items()}, 'augment': {'random_crop': 24, 'hflip': True}}
    sizes = {}
    for phase in ('train', 'val', 'test'):
        dataset = build_dataset(opt | {'phase': phase})
        assert isinstance(dataset, GeneralNRDataset)
        sizes[phase] = len(dataset)
    assert sizes == {'train': 14, 'val': 7, 'test': 7}

    item = dataset[1]
    assert set(item) == {'img', 'mos_label', 'img_path'}
    assert item['img'].shape == (3, 24, 24) and 0 <= item['img'].min() and item['img'].max() <= 1
    meta = pd.read_csv(root / 'meta_info.csv').set_index('img_name')
    name = item['img_path'][len(str(root)) + 1:]
    assert item['mos_label'].item() == pytest.approx(meta.loc[name, 'mos'])

    # the whole set on request, and pyiqa's own class reads the files despite the extra columns
    assert len(build_dataset(opt | {'phase': 'test', 'split_file': None})) == 28
    plain = GeneralNRDataset({'dataroot_target': str(root), 'meta_info_file': str(root / 'meta_info.csv'),
                              'split_file': str(root / 'split.pkl'), 'phase': 'val'})
    assert len(plain) == 7 and min(plain[0]['img'].shape[-2:]) == 32
    by_column = build_dataset(opt | {'phase': 'val', 'split_index': 'split'})
    assert sorted(p for p, _ in by_column.paths_mos) == sorted(p for p, _ in plain.paths_mos)


def test_cached_images_give_the_same_items_and_are_decoded_once(tmp_path, monkeypatch):
    import torch
    from PIL import Image
    from pyiqa.data import build_dataset

    opt = {'name': 'photos', 'type': 'PhotoDistortionNRDataset', 'dataroot_target': str(tmp_path / 'nr'),
           'build_opts': dict(SMALL), 'augment': {'random_crop': 24, 'hflip': True}, 'phase': 'train'}
    plain, cached = build_dataset(opt), build_dataset(opt | {'cache_images': True})
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, 'open', lambda path, *a, **k: opened.append(path) or real_open(path, *a, **k))
    for epoch in range(2):
        for index in range(len(plain)):
            torch.manual_seed(epoch * 100 + index)
            expected = plain[index]
            torch.manual_seed(epoch * 100 + index)
            item = cached[index]
            assert torch.equal(item['img'], expected['img']) and item['img_path'] == expected['img_path']
            assert item['mos_label'].dtype == expected['mos_label'].dtype
            assert torch.equal(item['mos_label'], expected['mos_label'])
    assert len(opened) == 2 * len(plain) + len(plain)  # the plain dataset every time, the cached one once


def test_fr_dataset_type_through_pyiqa(tmp_path):
    from pyiqa.data import build_dataset

    root = tmp_path / 'fr'
    dataset = build_dataset({'name': 'photos-fr', 'type': 'PhotoDistortionFRDataset', 'dataroot_target': str(root),
                             'build_opts': SMALL, 'phase': 'train'})
    meta = pd.read_csv(root / 'meta_info.csv')
    assert list(meta.columns[:3]) == ['ref_name', 'dist_name', 'mos'] and len(meta) == 4 * 2 * 3
    assert len(dataset) == 12
    item = dataset[5]
    assert set(item) == {'img', 'ref_img', 'mos_label', 'img_path', 'ref_img_path'}
    assert item['img'].shape == item['ref_img'].shape
    photo = item['img_path'].split('/')[-1].rsplit('_', 2)[0]
    assert item['ref_img_path'].endswith(f'ref/{photo}.png')
    assert item['mos_label'].item() < 1


@pytest.mark.parametrize('opt,match', [
    ({}, 'needs dataroot_target'),
    ({'dataroot_target': 'x', 'build_opts': {'colour': True}}, "unknown build_opts \\['colour'\\]"),
])
def test_dataset_type_bad_options(opt, match):
    with pytest.raises(ValueError, match=match):
        photo_dataset_types.PhotoDistortionNRDataset({'name': 'x', 'phase': 'train'} | opt)


@pytest.mark.parametrize('call', [
    lambda tmp: build_nr_dataset(tmp / 'ds', **(SMALL | {'distortions': 'blur'})),
    lambda tmp: photo_dataset_types.PhotoDistortionNRDataset({'name': 'x', 'dataroot_target': str(tmp / 'ds'),
                                                         'build_opts': ['size', 32]}),
])
def test_wrongly_typed_options(tmp_path, call):
    with pytest.raises(TypeError, match='must be a'):
        call(tmp_path)
    assert not (tmp_path / 'ds').exists()

