"""Reading a protocol: the shipped protocol files, and a recipe with flags as a one-recipe protocol."""
from pathlib import Path
from types import SimpleNamespace

import pytest

from pyiqa_uniqa.apps.protocol.request import ProtocolError, read_request

REPO = Path(__file__).resolve().parents[3]


def flags(opt, **given):
    names = ('datasets', 'cross', 'splits', 'split_file', 'test_fraction', 'val_fraction', 'seed', 'data_opt',
             'data_root', 'name', 'force_yml')
    return SimpleNamespace(opt=str(opt), **{name: given.get(name) for name in names})


def test_the_shipped_protocols_read_as_they_say(monkeypatch):
    monkeypatch.chdir(REPO)  # their paths are relative to the repository root, as the recipes' are
    demo = read_request(flags('options/protocol/demo.yml'))
    assert [r.label for r in demo.recipes] == ['uniqa-tiny'] and demo.splits == 2
    assert demo.datasets == ['photos-a', 'photos-b'] and demo.cross_for('photos-a') == ['photos-b']
    koniq = read_request(flags('options/protocol/uniqa_koniq.yml'))
    assert koniq.recipes[0].paper == 'uniqa-koniq' and koniq.splits == 10
    assert koniq.cross_for('koniq10k') == ['livec', 'spaq']
    assert [s.paper for s in koniq.settings] == ['random 80/20 splits'] + [
        f'few-label: {n} training labels' for n in (50, 100, 200)]
    assert koniq.settings[1].overrides[0] == 'datasets:train:num_labels=50'


def test_a_recipe_is_a_one_recipe_protocol_completed_by_flags(monkeypatch):
    monkeypatch.chdir(REPO)
    request = read_request(flags('options/uniqa/koniq.yml', cross=['livec'], splits=3, force_yml=['train:total_epoch=2']))
    assert request.name == 'uniqa_koniq' and [r.label for r in request.recipes] == ['uniqa_koniq']
    assert request.datasets == [] and request.cross == {'*': ['livec']} and request.splits == 3
    assert [s.label for s in request.settings] == ['full'] and request.overrides == ['train:total_epoch=2']
    as_file = request.as_file()
    assert as_file['recipes']['uniqa_koniq']['recipe'] == str(REPO / 'options' / 'uniqa' / 'koniq.yml')
    with pytest.raises(ProtocolError, match='val_fraction must be a number between 0 and 1'):
        read_request(flags('options/uniqa/koniq.yml', val_fraction=1.5))


def test_a_unit_trains_the_recipe_on_its_split_and_validates_every_tested_set(monkeypatch):
    from pyiqa_uniqa.apps.protocol.plan import dataset_identity, unit_options
    from pyiqa_uniqa.options import load_yaml
    from pyiqa_uniqa.training.option_check import unknown_keys

    monkeypatch.chdir(REPO)
    request = read_request(flags('options/protocol/demo.yml'))
    identities = {name: dataset_identity(options)
                  for name, options in load_yaml('options/protocol/demo_datasets.yml').items()}
    recipe = request.recipes[0]
    opt = unit_options(recipe, identities, 'photos-a', ['photos-b'], request.settings[0], request.overrides,
                       Path('/out/splits/photos-a.pkl'), 2)
    datasets = opt['datasets']
    assert list(datasets) == ['train', 'val', 'val_test', 'val_cross1']
    assert [(d['name'], d.get('source_phase'), d['part'], d['split_file']) for d in datasets.values()] == [
        ('photos-a train', 'train', 'train', '/out/splits/photos-a.pkl'),
        ('val', 'val', 'all', '/out/splits/photos-a.pkl'), ('test', 'test', 'all', '/out/splits/photos-a.pkl'),
        ('cross-photos-b', None, 'all', None)]
    assert datasets['train']['augment'] == recipe.options['datasets']['train']['augment']  # the recipe's loading
    assert datasets['val_cross1']['build_opts'] == identities['photos-b']['build_opts']
    assert datasets['train']['dataroot_target'] == str(REPO / 'datasets' / 'protocol_demo' / 'photos_a')
    assert opt['name'] == 'run' and opt['train']['total_epoch'] == 6 and opt['network']['num_crops'] == 8
    assert opt['logger']['save_checkpoint_freq'] == opt['val']['val_freq'] == 6
    assert opt['logger']['use_tb_logger'] is True and opt['val']['key_metric'] == 'srcc'
    assert unknown_keys(opt) == []  # nothing pyiqa would ignore (a wrapper's keys for its base type included)
