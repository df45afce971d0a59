"""Generated and mutated recipes through ``pyiqa-uniqa train -opt`` (up to pyiqa's pipeline, which is
replaced by a stub: what is checked is everything before training starts) and ``--force_yml``.

A case starts from a valid toy recipe and changes it: a value replaced by a generated one (of any
YAML type, a huge number, a name that climbs out of the folder...), a key removed, a YAML tag put
before a value, the text cut or bytes flipped, ``--force_yml`` entries added. The outcome must be
the stub reached (status 0, with the run's folders inside the working folder) or status 2 with one ``pyiqa-uniqa train: error:`` message naming the
file or ``--force_yml``, no traceback, and the working folder as it was (property_bounds.py).
"""
import contextlib
import copy
import io
import os
import tempfile
from pathlib import Path
from unittest import mock

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from property_bounds import cases, check_case

from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.testing.toy_datasets import write_toy_iqa_dataset

DATASET = {'name': 'toy', 'type': 'GeneralNRDataset', 'dataroot_target': 'data', 'meta_info_file': 'data/meta.csv',
           'split_file': 'data/split.pkl'}
RECIPE = {
    'name': 'toy', 'model_type': 'FrozenBackboneIQAModel', 'num_gpu': 0, 'manual_seed': 1,
    'datasets': {'train': {**DATASET, 'augment': {'random_crop': 32}, 'batch_size_per_gpu': 4, 'num_worker_per_gpu': 0},
                 'val': dict(DATASET)},
    'network': {'type': 'TinyIQANet'}, 'path': {},
    'train': {'optim': {'type': 'Adam', 'lr': 0.01}, 'total_iter': 2, 'mos_loss_opt': {'type': 'MSELoss'}},
    'val': {'val_freq': 1000, 'metrics': {'srcc': {'type': 'calculate_srcc'}}},
    'logger': {'print_freq': 1, 'save_checkpoint_freq': 1000},
}
NAMES = ('../../escaped_run', '/tmp/absolute_run', 'a\0b', '~', '..', '.', '', 'auto', '2024-02-30', 'x' * 300,
         'GeneralNRDataset', 'debug_run', '²')
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.sampled_from((10 ** 30, -1, 0)),
                    st.floats(allow_nan=True), st.text(max_size=12), st.sampled_from(NAMES))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                            max_size=3), max_leaves=6)
TAGS = ('!!float ', '!!int ', '!!bool ', '!!timestamp ', '!!map ', '!!set ', '!!binary ', '!!str ', '!!seq ',
        '!!python/object/apply:os.getcwd ')


def key_paths(block, prefix=()):
    """Every key path of a nested mapping."""
    for key, value in block.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from key_paths(value, (*prefix, key))


@st.composite
def recipes(draw):
    """``(text of the recipe file, --force_yml entries)``."""
    opt = copy.deepcopy(RECIPE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(sorted(key_paths(opt), key=str)))
        parent = opt
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.integers(0, 4)) == 0:
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(VALUES)
        if not opt:
            break
    text = yaml.safe_dump(opt, sort_keys=False, allow_unicode=True)
    damage = draw(st.sampled_from(('none', 'none', 'tag', 'cut', 'flip')))
    if damage == 'tag':
        at = text.find(': ', draw(st.integers(0, max(0, len(text) - 1))))
        if at >= 0:
            text = text[:at + 2] + draw(st.sampled_from(TAGS)) + text[at + 2:]
    elif damage == 'cut':
        text = text[:draw(st.integers(0, len(text)))]
    elif damage == 'flip':
        data = bytearray(text.encode())
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        text = bytes(data).decode('utf-8', errors='surrogateescape')
    sections = st.sampled_from(('train:total_iter', 'manual_seed', 'name', 'num_gpu', 'datasets:train:type',
                                'datasets:train:batch_size_per_gpu', 'network:type', 'datasets', 'logger:print_freq',
                                'path:resume_state', 'nosuch:key', 'train'))
    force_values = st.one_of(st.sampled_from(('²', '1' * 5000, '99999999999999999999', '-1', '[1, 2', '[1, 2]',
                                              '!!float abc', '~', 'true', '../../up', '1e400', '.')), st.text(max_size=8))
    force = draw(st.lists(st.builds(lambda key, value: f'{key}={value}', sections, force_values), max_size=2))
    return text, force


def train(folder, text, force):
    """``pyiqa-uniqa train -opt recipe.yml [--force_yml ...]`` in ``folder``, pyiqa's pipeline stubbed:
    0 when training would start; a status-2 error is raised again as a UserError for the check."""
    path = folder / 'recipe.yml'
    path.write_bytes(text.encode('utf-8', errors='surrogateescape'))
    err, cwd = io.StringIO(), os.getcwd()
    os.chdir(folder)
    try:
        with mock.patch('pyiqa.train.train_pipeline') as pipeline, contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()):
            status = main(['train', '-opt', str(path), *(['--force_yml', *force] if force else [])])
    finally:
        os.chdir(cwd)
    path.unlink()
    message = err.getvalue()
    assert 'Traceback' not in message, message
    if status == 2:
        assert message.startswith('pyiqa-uniqa train: error: '), message
        raise UserError(message)
    assert status == 0 and pipeline.called, (status, message)
    opt = pipeline.call_args.args[1]
    for run in (folder / 'experiments' / opt['name'], folder / 'tb_logger' / opt['name']):
        assert run.resolve().is_relative_to(folder.resolve()), f'the run would be written at {run}'
    return status


@settings(max_examples=cases(250))
@given(recipes())
def test_generated_recipes_through_train_preflight(case):
    text, force = case
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_toy_iqa_dataset(folder / 'data')
        check_case('train -opt recipes', lambda: train(folder, text, force), ['recipe.yml', '--force_yml'], folder)
