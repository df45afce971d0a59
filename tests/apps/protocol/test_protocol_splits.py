"""The protocol's splits: by content group, disjoint, reproducible, with a selection part carved from training."""
import pickle

import pandas as pd
import pytest

from pyiqa_uniqa.apps.protocol.request import ProtocolError
from pyiqa_uniqa.apps.protocol.splits import (
    protocol_splits,
    source_splits,
    write_split_file,
)


def photo_table(photos=10, versions=5):
    """A meta-info table like the photo datasets': ``versions`` rows per photo."""
    return pd.DataFrame({'img_name': [f'{p}_{v}.png' for p in range(photos) for v in range(versions)],
                         'mos': [v / versions for _ in range(photos) for v in range(versions)],
                         'photo': [f'photo{p}' for p in range(photos) for _ in range(versions)]})


def photos_of(table, rows):
    return {table['photo'][i] for i in rows}


def test_seeded_splits_keep_each_photo_in_one_part_and_differ_per_split():
    table = photo_table()
    parts, source = source_splits(table, count=3, seed=123, test_fraction=0.2)
    splits = protocol_splits(table, parts, seed=123, val_fraction=0.25)
    assert 'by photo' in source and 'seed 123' in source
    tests = []
    for split in splits.values():
        train, val, test = (photos_of(table, split[p]) for p in ('train', 'val', 'test'))
        assert not (train & val or train & test or val & test), 'a photo leaked across parts'
        assert sorted(split['train'] + split['val'] + split['test']) == list(range(len(table)))
        assert len(test) == 2 and len(val) == 2  # ceil(0.2 * 10) and ceil(0.25 * 8) photos
        tests.append(frozenset(test))
    assert len(set(tests)) > 1, 'every split drew the same test photos'
    again = protocol_splits(table, source_splits(table, 3, 123, 0.2)[0], 123, 0.25)
    assert again == splits  # reproducible from the seed
    other = protocol_splits(table, source_splits(table, 3, 7, 0.2)[0], 7, 0.25)
    assert other != splits


def test_rows_are_their_own_group_without_a_reference_column():
    table = photo_table().drop(columns='photo')
    parts, source = source_splits(table, count=1, seed=0, test_fraction=0.2)
    assert 'by row' in source and len(parts[0][2]) == 10  # 20% of 50 rows


def test_a_split_file_whose_val_is_its_test_gets_a_carved_val(tmp_path):
    table = photo_table()
    rows = list(range(len(table)))
    # pyiqa's own split files often repeat the test rows as 'val'
    stored = {1: {'train': rows[:40], 'val': rows[40:], 'test': rows[40:]},
              2: {'train': rows[10:], 'val': rows[:5], 'test': rows[5:10]}}
    path = tmp_path / 'splits.pkl'
    path.write_bytes(pickle.dumps(stored))
    parts, source = source_splits(table, count=2, seed=1, test_fraction=0.2, split_file=path)
    splits = protocol_splits(table, parts, seed=1, val_fraction=0.1)
    assert str(path) in source
    assert splits[1]['test'] == rows[40:]
    assert splits[1]['val'] and not set(splits[1]['val']) & set(rows[40:])  # carved from training
    assert set(splits[1]['train']) | set(splits[1]['val']) == set(rows[:40])
    assert splits[2]['val'] == rows[:5]  # its own val is disjoint from test: kept
    with pytest.raises(ProtocolError, match='holds 2 split'):
        source_splits(table, count=3, seed=1, test_fraction=0.2, split_file=path)


def test_numbered_split_columns_of_the_meta_info_are_used():
    table = photo_table()
    for k in range(2):
        table[f'ratio802_seed123_split_{k:02d}'] = ['test' if p % 5 == k else 'train' for p in range(10) for _ in range(5)]
    parts, source = source_splits(table, count=2, seed=0, test_fraction=0.2)
    assert 'ratio802_seed123_split_00' in source
    assert photos_of(table, parts[1][2]) == {'photo1', 'photo6'}


def test_split_file_is_written_once_and_never_silently_replaced(tmp_path):
    table = photo_table()
    splits = protocol_splits(table, source_splits(table, 2, 123, 0.2)[0], 123, 0.1)
    path = tmp_path / 'splits' / 'photos.pkl'
    write_split_file(path, splits)
    assert pickle.loads(path.read_bytes()) == splits
    write_split_file(path, splits)  # the same splits: fine (a resumed protocol, another shard)
    other = protocol_splits(table, source_splits(table, 2, 5, 0.2)[0], 5, 0.1)
    with pytest.raises(ProtocolError, match='other splits'):
        write_split_file(path, other)
