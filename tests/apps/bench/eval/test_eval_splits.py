"""Split pickles (read without running code) and split columns mapped to rows."""
import os
import pickle

import numpy as np
import pytest

from pyiqa_uniqa.apps.bench.eval.splits import (
    SplitError,
    column_name,
    load_split_file,
    splits_from_columns,
    splits_from_file,
)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ('echo should-never-run',))


def test_split_pickles_with_numpy_load_and_every_split_is_listed(tmp_path):
    path = tmp_path / 'split.pkl'
    path.write_bytes(pickle.dumps({1: {'train': np.arange(4), 'test': [4, 5]}, 2: {'train': [0], 'test': np.array([1, 2])}}))
    splits = splits_from_file(path, 'all', 'test', dataset_length=6)
    assert [(s.label, s.indices) for s in splits] == [('1', [4, 5]), ('2', [1, 2])]
    assert [s.label for s in splits_from_file(path, '2', 'test', 6)] == ['2']


def test_a_pickle_that_would_run_code_is_refused_unexecuted(tmp_path, capfd):
    path = tmp_path / 'evil.pkl'
    path.write_bytes(pickle.dumps({1: {'test': [_RunsCode()]}}))
    with pytest.raises(SplitError, match='system'):
        load_split_file(path)
    assert 'should-never-run' not in capfd.readouterr().out


@pytest.mark.parametrize('content, message', [
    (b'not a pickle', 'not a readable split pickle'),
    (pickle.dumps([1, 2, 3]), 'expected'),
])
def test_broken_split_files_say_what_is_wrong(tmp_path, content, message):
    path = tmp_path / 'bad.pkl'
    path.write_bytes(content)
    with pytest.raises(SplitError, match=message):
        load_split_file(path)


def test_split_errors_name_the_available_choices(tmp_path):
    path = tmp_path / 'split.pkl'
    path.write_bytes(pickle.dumps({1: {'train': [0], 'val': [1]}}))
    with pytest.raises(SplitError, match="no 'test' list .*train, val"):
        splits_from_file(path, 1, 'test', 2)
    with pytest.raises(SplitError, match='has no split 7; it has 1'):
        splits_from_file(path, 7, 'val', 2)
    with pytest.raises(SplitError, match='outside the 1 rows'):
        splits_from_file(path, 1, 'val', 1)


def test_numbered_split_columns_follow_pyiqa_naming():
    assert column_name(3, {}) == 'ratio802_seed123_split_03'
    assert column_name('official_split', {}) == 'official_split'


def test_column_splits_map_back_to_rows_of_the_unsplit_dataset():
    class Rows:
        def __init__(self, rows):
            self.paths_mos = rows
    full = [['a.png', 1.0], ['b.png', 2.0], ['a.png', 1.0], ['c.png', 3.0]]  # a duplicate row
    by_column = {'s1': Rows([full[1], full[3]]), 's2': Rows([full[0], full[2]])}
    from pyiqa_uniqa.apps.bench.eval.splits import row_keys
    splits = splits_from_columns(['s1', 's2'], by_column.__getitem__, row_keys(Rows(full)))
    assert [s.indices for s in splits] == [[1, 3], [0, 2]]
