"""The CLIP-AGIQA recipes train as the official README command: context, crops, optimiser, schedule."""
import math
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import torchvision.transforms as tf
import yaml
from PIL import Image

from pyiqa_uniqa.clip_agiqa.schedule import WarmupCosineLR
from pyiqa_uniqa.testing.dassl_checkpoints import dassl_optimization
from pyiqa_uniqa.testing.toy_datasets import write_toy_iqa_dataset

OPTIONS = Path(__file__).resolve().parents[2] / 'options' / 'clip_agiqa'


def test_schedule_is_dassls_warmup_then_cosine():
    # the official schedule, from the official objects: one epoch at 1e-5, then cosine from 0.002 (T_max 100)
    theirs_optimizer, theirs = dassl_optimization(torch.nn.Linear(2, 1), max_epoch=100)
    ours_optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.002, momentum=0.9, weight_decay=5e-4)
    ours = WarmupCosineLR(ours_optimizer, T_max=100, warmup_epochs=1, warmup_lr=1e-5)
    for epoch in range(100):
        lr = ours_optimizer.param_groups[0]['lr']
        assert lr == pytest.approx(theirs_optimizer.param_groups[0]['lr'], rel=1e-12, abs=1e-15), epoch
        expected = 1e-5 if epoch == 0 else 0.002 * (1 + math.cos(math.pi * (epoch - 1) / 100)) / 2
        assert lr == pytest.approx(expected, rel=1e-12)
        for optimizer, scheduler in ((ours_optimizer, ours), (theirs_optimizer, theirs)):
            optimizer.step()  # no gradients: nothing moves, but torch expects the step first
            scheduler.step()
    # its state is plain numbers: a resumed run continues exactly (and loads weights-only)
    resumed = WarmupCosineLR(torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.002), T_max=100)
    resumed.load_state_dict(ours.state_dict())
    assert resumed.get_last_lr() == ours.get_last_lr()


@pytest.fixture()
def photo_dataset(tmp_path):
    image = Image.fromarray(torch.randint(0, 256, (200, 300, 3), dtype=torch.uint8).numpy())
    image.save(tmp_path / 'a.png')
    pd.DataFrame({'img_name': ['a.png'], 'mos': [3.0], 'split': ['train']}).to_csv(tmp_path / 'meta.csv', index=False)
    return tmp_path, image


def dataset_for(root, phase):
    from pyiqa_uniqa.clip_agiqa.dataset import CLIPAGIQADataset
    opt = yaml.safe_load((OPTIONS / 'agiqa3k.yml').read_text())['datasets'][phase]
    opt.update(dataroot_target=str(root), meta_info_file=str(root / 'meta.csv'), phase='train')
    opt.pop('override_phase', None)
    return CLIPAGIQADataset(opt)


def test_recipe_crops_are_the_official_transforms(photo_dataset):
    # Dassl's transforms for INPUT.SIZE 224, INTERPOLATION bicubic, TRANSFORMS random_resized_crop + random_flip
    root, image = photo_dataset
    bicubic = tf.InterpolationMode.BICUBIC
    official_test = tf.Compose([tf.Resize(224, interpolation=bicubic), tf.CenterCrop(224), tf.ToTensor()])
    assert torch.equal(dataset_for(root, 'val')[0]['img'], official_test(image))
    official_train = tf.Compose([tf.RandomResizedCrop(224, scale=(0.08, 1.0), interpolation=bicubic),
                                 tf.RandomHorizontalFlip(), tf.ToTensor()])
    train = dataset_for(root, 'train')
    for seed in range(3):
        torch.manual_seed(seed)
        ours = train[0]['img']
        torch.manual_seed(seed)
        assert ours.shape == (3, 224, 224) and torch.equal(ours, official_train(image))


@pytest.mark.parametrize('recipe', ['agiqa3k.yml', 'aigciqa2023.yml'])
def test_recipe_values_are_the_official_command(recipe):
    opt = yaml.safe_load((OPTIONS / recipe).read_text())
    network, train = opt['network'], opt['train']
    assert (network['context_init'], network['n_ctx'], network.get('class_specific_context', False)) == ('', 16, False)
    assert network['backbone_weights'] is None and network['model_name'] == 'ViT-B-16-quickgelu'
    assert network['precision'] == 'fp16'  # PREC fp16, the official default
    assert train['optim'] == {'type': 'SGD', 'lr': 0.002, 'momentum': 0.9, 'weight_decay': 5e-4}
    assert train['scheduler'] == {'type': 'WarmupCosineLR', 'T_max': 100, 'warmup_epochs': 1, 'warmup_lr': 1e-5}
    assert train['total_epoch'] == 100 and opt['datasets']['train']['batch_size_per_gpu'] == 32
    assert opt['datasets']['train']['augment'] == {
        'random_resized_crop': {'size': 224, 'scale': [0.08, 1.0], 'interpolation': 3}, 'hflip': True}


@pytest.fixture()
def toy_recipe(tmp_path, tiny_clip_checkpoint):
    """The shipped AGIQA-3K recipe, shrunk to the 20-image toy data set and the tiny CLIP."""
    write_toy_iqa_dataset(tmp_path / 'data')
    meta = pd.read_csv(tmp_path / 'data' / 'meta.csv')
    meta['split'] = ['train'] * 16 + ['test'] * 4
    meta.to_csv(tmp_path / 'data' / 'meta.csv', index=False)
    opt = yaml.safe_load((OPTIONS / 'agiqa3k.yml').read_text())
    opt.update(name='clip_agiqa_toy', num_gpu=0)
    for dataset in opt['datasets'].values():
        dataset.update(dataroot_target=str(tmp_path / 'data'), meta_info_file=str(tmp_path / 'data' / 'meta.csv'),
                       batch_size_per_gpu=4, num_worker_per_gpu=0)
    opt['network'].update(model_name='tiny-clip-quickgelu', backbone_weights=str(tiny_clip_checkpoint))
    opt['train']['total_epoch'] = 2
    opt['val']['val_freq'] = 4
    opt['logger'].update(print_freq=1, use_tb_logger=False)
    (tmp_path / 'toy.yml').write_text(yaml.safe_dump(opt))
    return tmp_path / 'toy.yml'


def test_recipe_trains_through_pyiqa(toy_recipe):
    # warm-up epoch, then the base lr; the checkpoint holds 16 context vectors and the head
    workdir = toy_recipe.parent
    result = subprocess.run([sys.executable, '-m', 'pyiqa_uniqa', 'train', '-opt', toy_recipe.name], cwd=workdir,
                            capture_output=True, text=True, timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'would silently ignore' not in log
    logged = re.findall(r'\[epoch:\s*(\d+), iter:\s*\d+, lr:\(([\d.e+-]+),\)', log)
    lrs = {int(epoch): float(lr) for epoch, lr in logged}
    assert lrs == {0: 1e-5, 1: 2e-3}
    checkpoint = workdir / 'experiments' / 'clip_agiqa_toy' / 'models' / 'net_best.pth'
    params = torch.load(checkpoint, weights_only=True)['params']
    assert params['prompt_learner.ctx'].shape == (16, 32) and set(params) == {
        'prompt_learner.ctx', 'regressor.1.weight', 'regressor.1.bias', 'regressor.4.weight', 'regressor.4.bias'}


def test_validation_is_equal_with_and_without_the_feature_cache(toy_recipe):
    # frozen CLIP, fixed centre crop: each validation image is encoded once, the numbers do not change
    from pyiqa_uniqa.training.measurement import runs_without_and_with_feature_cache
    uncached, cached = runs_without_and_with_feature_cache(toy_recipe, toy_recipe.parent / 'runs')
    assert [i for i, _ in cached.validations] == [4, 8, 8]  # pyiqa validates the final weights again
    for without, with_cache in zip(uncached.val_scores, cached.val_scores):
        assert torch.allclose(without, with_cache, rtol=0, atol=1e-6)
    for (_, without), (_, with_cache) in zip(uncached.validations, cached.validations):
        assert abs(without['srcc'] - with_cache['srcc']) <= 1e-6
    assert not torch.equal(cached.val_scores[0], cached.val_scores[-1])  # the context and head trained
    assert uncached.tower_images['val'] == 3 * 4 and cached.tower_images['val'] == 4


def test_a_missing_clip_file_is_one_preflight_line_and_nothing_is_created(toy_recipe, capsys, monkeypatch):
    from pyiqa_uniqa.apps.cli import main
    opt = yaml.safe_load(toy_recipe.read_text())
    opt['network']['backbone_weights'] = 'missing_clip.pt'
    toy_recipe.write_text(yaml.safe_dump(opt))
    monkeypatch.chdir(toy_recipe.parent)
    assert main(['train', '-opt', toy_recipe.name]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith('pyiqa-uniqa train: error: toy.yml names inputs that are missing')
    assert len(lines) == 2 and lines[1].startswith("  - network.backbone_weights: The given backbone_weights / "
                                                   "--backbone-weights 'missing_clip.pt' does not exist")
    assert not (toy_recipe.parent / 'experiments').exists() and not (toy_recipe.parent / 'tb_logger').exists()
