"""Option files are plain YAML data: what pyiqa's recipes use is kept, anything else is refused."""
import pytest

from pyiqa_uniqa.options import OptionsFileError, parse_override, parse_yaml


def test_merge_keys_merge_and_may_be_overridden():
    text = 'base: &base {lr: 1, wd: 2}\nrun:\n  <<: *base\n  lr: 3\n'
    assert parse_yaml(text) == {'base': {'lr': 1, 'wd': 2}, 'run': {'lr': 3, 'wd': 2}}


def test_a_key_given_twice_in_one_mapping_is_still_refused():
    with pytest.raises(OptionsFileError, match=r"recipe.yml, line 4: the key 'lr' is given twice \(first on line 2\)"):
        parse_yaml('run:\n  lr: 1\n  wd: 2\n  lr: 3\n', 'recipe.yml')


# PyYAML's own constructors and --force_yml's numbers: each was an exception from inside the reader
@pytest.mark.parametrize('text, message', [
    ('{[1]: 2}', 'line 1: a list cannot be a key'),
    ('a: !!float abc', "line 1: this !!float value cannot be read (ValueError: could not convert string to float"),
    ('a: !!bool maybe', 'line 1: this !!bool value cannot be read'),
    ('a: 1\nb: !!timestamp foo', 'line 2: the tag !!timestamp is not allowed'),
    ('a: !!map [1]', 'line 1: expected a mapping node, but found sequence'),
    ('a: !!int ' + '9' * 5000, 'line 1: this !!int value cannot be read (it has more digits than Python converts)'),
    ('a: !!set [1]', 'line 1: the tag !!set is not allowed'),
    ('a: !!binary aGk=', 'line 1: the tag !!binary is not allowed'),
    ('a: &x [*x]', 'a list or mapping contains itself'),
])
def test_values_yaml_cannot_build_name_the_file_and_line(text, message):
    with pytest.raises(OptionsFileError) as raised:
        parse_yaml(text, 'recipe.yml')
    assert str(raised.value).startswith('recipe.yml') and message in str(raised.value)


def test_dates_stay_text_as_names_and_paths_need_them():
    assert parse_yaml('name: 2024-02-30\nother: 2024-02-03\n') == {'name': '2024-02-30', 'other': '2024-02-03'}


@pytest.mark.parametrize('value, parsed', [('²', '²'), ('12', 12), ('.5', 0.5), ('3.', 3.0), ('.', '.'), ('1.2.3', '1.2.3')])
def test_force_yml_numbers_are_ascii_digits(value, parsed):
    assert parse_override(f'train:total_iter={value}') == (['train', 'total_iter'], parsed)


def test_force_yml_with_a_number_python_cannot_convert_is_an_options_error():
    with pytest.raises(OptionsFileError, match='--force_yml train:total_iter=...: the number has 5000 digits'):
        parse_override('train:total_iter=' + '1' * 5000)
