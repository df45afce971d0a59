"""Every UniQA recipe parses, uses only keys pyiqa reads, and follows the official recipe."""
import inspect
from pathlib import Path

import pytest
import yaml
from PIL import Image

OPTIONS = Path(__file__).resolve().parents[2] / 'options' / 'uniqa'
RECIPES = sorted(p for p in OPTIONS.glob('*.yml') if not p.name.startswith('pretrain'))
DATASET_RECIPES = [p for p in RECIPES if p.name != 'demo.yml']


def load(path):
    from pyiqa.utils.options import ordered_yaml
    return yaml.load(path.read_text(), Loader=ordered_yaml()[0])


@pytest.mark.parametrize('path', RECIPES, ids=lambda p: p.name)
def test_recipe_keys_are_all_read(path):
    from pyiqa.utils.registry import DATASET_REGISTRY, MODEL_REGISTRY

    from pyiqa_uniqa.training.option_check import unknown_keys
    from pyiqa_uniqa.uniqa.arch import UniQA

    opt = load(path)
    assert unknown_keys(opt) == []
    assert set(opt['network']) - {'type'} <= set(inspect.signature(UniQA).parameters)
    assert opt['network']['type'] == 'UniQA'
    from pyiqa.data import _lazy_import_dataset  # how pyiqa's build_dataset finds its own types

    MODEL_REGISTRY.get(opt['model_type'])
    for dataset in opt['datasets'].values():
        for type_name in (dataset['type'], dataset.get('base_type')):
            if type_name and type_name not in DATASET_REGISTRY:
                _lazy_import_dataset(type_name)
            if type_name:
                DATASET_REGISTRY.get(type_name)


@pytest.mark.parametrize('path', DATASET_RECIPES, ids=lambda p: p.name)
def test_dataset_recipes_follow_the_official_recipe(path):
    opt = load(path)
    train, val = opt['datasets']['train'], opt['datasets']['val']
    assert train['augment']['hflip'] is True and train['augment']['random_crop'] == 224
    assert train['batch_size_per_gpu'] == 8 and train['mos_normalize'] is True
    assert opt['train']['optim'] == {'type': 'Adam', 'lr': 2e-4}
    assert opt['train']['scheduler']['type'] == 'CosineAnnealingLR'
    assert opt['train']['scheduler']['T_max'] == opt['train']['total_epoch']
    assert opt['train']['mos_loss_opt']['type'] == 'MSELoss' and 'metric_loss_opt' not in opt['train']
    assert opt['network']['crop_size'] == 224
    # validation never reads the held-out test part unless the user edits the recipe
    assert val.get('source_phase', 'train') in ('train', 'val') and 'override_phase' not in val
    if val.get('source_phase') == 'val':
        assert 'official_split' == train['split_index']  # a real validation split, not the test part
    epochs = {'koniq.yml': 20, 'livec.yml': 50}
    if path.name in epochs:
        assert opt['train']['total_epoch'] == epochs[path.name]
    if 'fewlabel' in path.name:
        assert train['num_labels'] == 50 and 'label_seed' in train


def test_every_adapter_metric_names_an_existing_recipe():
    from pyiqa_uniqa.uniqa import METRICS as UNIQA_CONFIGS
    from pyiqa_uniqa.uniqa import VARIANTS

    assert len(VARIANTS.variants) == 7
    for variant in VARIANTS.variants:
        assert (OPTIONS.parents[1] / variant.recipe).is_file(), variant.recipe
    # each finds its adapter in pyiqa's cache dir under a name of its own, documented in docs/uniqa.md
    files = {name: cfg['metric_opts'].get('weights_file') for name, cfg in UNIQA_CONFIGS.items()
             if cfg['metric_opts'].get('use_adapter')}
    assert files == {name: f'{name.replace("-", "_")}_adapter.pth' for name in files}
    assert len(files) == 7


def test_demo_recipes_are_the_packaged_ones_and_agree(tmp_path):
    from pyiqa_uniqa.backbones import clip_model_config
    from pyiqa_uniqa.data.photos import ALL_PHOTO_NAMES
    from pyiqa_uniqa.apps.uniqa_demo.demo import ADAPTER_RECIPE, PRETRAIN_RECIPE

    # the recipes in options/ are the ones the (installed) demo reads
    assert (OPTIONS / 'demo.yml').read_text() == ADAPTER_RECIPE.read_text()
    assert (OPTIONS / 'pretrain_demo.yml').read_text() == PRETRAIN_RECIPE.read_text()
    adapter, pretrain = load(ADAPTER_RECIPE), load(PRETRAIN_RECIPE)
    network = adapter['network']
    # one backbone geometry and one crop protocol for pre-training, zero-shot and the adapter
    assert pretrain['network']['clip_model'] == pretrain['datasets']['train']['clip_model'] == network['model_name']
    crop = clip_model_config(network['model_name'])['vision_cfg']['image_size']
    assert network['crop_size'] == adapter['datasets']['train']['augment']['random_crop'] == crop
    assert pretrain['network']['num_crops'] == network['num_crops'] and network['test_crops'] == 'random'
    assert pretrain['datasets']['train']['crop'] == 'native'  # crops at the photos' own scale, like random_crop
    # one photo dataset: every known photo, the same build options everywhere
    build_opts = [dict(d['build_opts']) for recipe in (adapter, pretrain) for d in recipe['datasets'].values()
                  if 'build_opts' in d]
    assert len(build_opts) == 3 and all(b == build_opts[0] for b in build_opts)
    assert build_opts[0]['photos'] == list(ALL_PHOTO_NAMES)
    # checkpoints are chosen on the val photos only
    assert [d.get('phase', 'val') for d in (adapter['datasets']['val'], pretrain['datasets']['val'])] == ['val', 'val']
    assert network['backbone_weights'] == pretrain['network']['backbone_weights'] == 'random'


def test_demo_recipe_moves_paths_into_the_workdir(tmp_path):
    from pyiqa_uniqa.apps.uniqa_demo.demo import ADAPTER_RECIPE, OFFICIAL_NETWORK, demo_recipe

    build_opts = {'size': 224, 'photos': ['astronaut', 'chelsea', 'coffee']}
    network = {**OFFICIAL_NETWORK, 'backbone_weights': str(tmp_path / 'UniQA_weight.pt')}
    opt = demo_recipe(ADAPTER_RECIPE, tmp_path, 'x', build_opts, network=network, epochs=3)
    assert all(d['dataroot_target'].startswith(str(tmp_path)) for d in opt['datasets'].values())
    assert all(d['build_opts'] == build_opts for d in opt['datasets'].values())
    assert opt['network']['model_name'] == 'ViT-B-16-quickgelu'
    assert opt['network']['crop_size'] == opt['datasets']['train']['augment']['random_crop'] == 224
    assert opt['train']['total_epoch'] == opt['train']['scheduler']['T_max'] == 3
    assert demo_recipe(ADAPTER_RECIPE, tmp_path, 'x', build_opts)['network']['backbone_weights'] == 'random'


@pytest.fixture
def png_named_pt(tmp_path):
    path = tmp_path / 'UniQA_weight.pt'
    Image.new('RGB', (8, 8)).save(path, format='PNG')
    return path


@pytest.mark.parametrize('argv, message', [
    (['--epochs', '0'], '--epochs must be >= 1'),
    (['--pretrain-epochs', '-1'], '--pretrain-epochs must be >= 1'),
    (['--backbone-weights', 'missing.pt'], 'missing.pt: no such file'),
    (['--backbone-weights', 'PNG'], 'UniQA_weight.pt is not a PyTorch checkpoint'),
    (['--backbone-weights', 'TINY'], 'does not fit the official UniQA backbone'),
    (['--quick', '--captioner', 'Qwen/Qwen2-VL-7B-Instruct'], '--captioner is for the full recipe'),
    (['--captioner', 'nobody/no-such-captioner'], "'nobody/no-such-captioner' is not on this machine"),
])
def test_demo_refuses_bad_arguments_before_any_work(tmp_path, png_named_pt, tiny_clip_checkpoint, capsys,
                                                    monkeypatch, argv, message):
    from pyiqa_uniqa.apps.cli import main

    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    files = {'PNG': str(png_named_pt), 'TINY': str(tiny_clip_checkpoint)}
    argv = [files.get(arg, arg) for arg in argv]
    assert main(['demo', '--workdir', str(tmp_path / 'demo'), *argv]) == 2
    error = capsys.readouterr().err
    assert error.startswith('pyiqa-uniqa demo: error: ') and message in error and 'Traceback' not in error
    assert not (tmp_path / 'demo').exists()


def test_demo_takes_a_backbone_in_the_official_layout(vitb16_checkpoint, tmp_path):
    import argparse

    import torch

    from pyiqa_uniqa.apps.uniqa_demo.demo import check_arguments

    def check(path):
        check_arguments(argparse.Namespace(epochs=None, pretrain_epochs=None, captioner='template', quick=False, threads=1,
                                           backbone_weights=str(path)))

    check(vitb16_checkpoint)  # no error: it fits
    # an export storing logit_scale as [1], which the metric loads, passes the demo's check too
    state_dict = torch.load(vitb16_checkpoint)
    state_dict['logit_scale'] = state_dict['logit_scale'].reshape(1)
    torch.save(state_dict, tmp_path / 'UniQA_weight.pt')
    check(tmp_path / 'UniQA_weight.pt')
