"""Option files are plain YAML data: what pyiqa's recipes use is kept, anything else is refused."""
import pytest

from pyiqa_uniqa.options import OptionsFileError, parse_yaml


def test_merge_keys_merge_and_may_be_overridden():
    text = 'base: &base {lr: 1, wd: 2}\nrun:\n  <<: *base\n  lr: 3\n'
    assert parse_yaml(text) == {'base': {'lr': 1, 'wd': 2}, 'run': {'lr': 3, 'wd': 2}}


def test_a_key_given_twice_in_one_mapping_is_still_refused():
    with pytest.raises(OptionsFileError, match=r"recipe.yml, line 4: the key 'lr' is given twice \(first on line 2\)"):
        parse_yaml('run:\n  lr: 1\n  wd: 2\n  lr: 3\n', 'recipe.yml')
