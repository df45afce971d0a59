"""Dataset names, --data-opt files and the file check that makes absent datasets cheap."""
import time

import pytest

from pyiqa_uniqa.apps.bench.eval.datasets import (
    DatasetUnavailable,
    ensure_available,
    load_data_opt,
    resolve_datasets,
)


def test_pyiqa_datasets_are_rebased_onto_the_data_root(tmp_path):
    koniq, = resolve_datasets(['koniq10k'], data_root=tmp_path)
    assert koniq.options['dataroot_target'] == str(tmp_path / 'koniq10k' / '512x384')
    assert koniq.options['meta_info_file'] == str(tmp_path / 'meta_info' / 'meta_info_KonIQ10kDataset.csv')
    csiq, = resolve_datasets(['csiq'], data_root=tmp_path)
    assert csiq.mos_lower_better  # CSIQ gives DMOS


def test_an_absent_dataset_is_reported_without_any_download(tmp_path):
    spec, = resolve_datasets(['livec'], data_root=tmp_path)
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailable, match='meta_info_LIVEChallengeDataset.csv.*--download'):
        ensure_available(spec, tmp_path, download=False)
    assert time.perf_counter() - start < 1


def test_unknown_names_get_suggestions():
    with pytest.raises(ValueError, match='Did you mean koniq10k'):
        resolve_datasets(['konik10k'])


def test_data_opt_files_in_all_three_shapes(tmp_path):
    many = tmp_path / 'many.yml'
    many.write_text('mine: {type: GeneralNRDataset, dataroot_target: imgs, meta_info_file: m.csv}\n'
                    'koniq10k: {dataroot_target: /data/koniq}\n')
    one = tmp_path / 'one.yml'
    one.write_text('type: GeneralNRDataset\ndataroot_target: imgs\nmeta_info_file: m.csv\n')
    train = tmp_path / 'train.yml'
    train.write_text('datasets:\n  val: {name: myval, type: GeneralNRDataset, dataroot_target: x, meta_info_file: y}\n')
    assert list(load_data_opt(one)) == ['one']
    assert list(load_data_opt(train)) == ['myval']
    mine, koniq = resolve_datasets([], data_opt=many)
    assert mine.options['type'] == 'GeneralNRDataset' and mine.source == str(many)
    # an entry named like a pyiqa dataset overrides only the keys it gives
    assert koniq.options['dataroot_target'] == '/data/koniq'
    assert koniq.options['split_index'] == 'official_split'


def test_data_opt_entries_must_be_mappings_with_a_type(tmp_path):
    bad = tmp_path / 'bad.yml'
    bad.write_text('mine: 3\n')
    with pytest.raises(ValueError, match='not mappings'):
        load_data_opt(bad)
    typeless = tmp_path / 'typeless.yml'
    typeless.write_text('mine: {dataroot_target: x}\n')
    with pytest.raises(ValueError, match='no `type`'):
        resolve_datasets(['mine'], data_opt=typeless)
