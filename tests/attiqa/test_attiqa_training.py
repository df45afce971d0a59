"""A short CPU pre-training run through ``pyiqa-uniqa train``: the ranking loss goes down."""
import re

import numpy as np
import torch
import yaml

from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES


def write_labels(image_folder, path):
    """Labels from image statistics the network can learn (brightness, colour spread, ...)."""
    from pyiqa_uniqa.attiqa.image_sources import list_images
    from pyiqa_uniqa.data.images import image_to_tensor
    _, paths = list_images(image_folder)
    lines = ['image_path,' + ','.join(ATTRIBUTES)]
    for name in paths:
        if 'truncated' in name:
            continue
        image = image_to_tensor(image_folder / name).numpy()
        stats = [np.abs(np.diff(image, axis=2)).mean() * 4, image.mean(), image.std() * 2, image.std(axis=0).mean() * 4,
                 np.abs(np.diff(image, axis=1)).mean() * 4]
        lines.append(name + ',' + ','.join(f'{min(max(v, 0), 1):.4f}' for v in stats))
    path.write_text('\n'.join(lines) + '\n')


def test_pretraining_run_lowers_the_ranking_loss(image_folder, tmp_path, monkeypatch):
    import torch

    from pyiqa_uniqa.apps.cli import main
    write_labels(image_folder, tmp_path / 'attrs.csv')
    data = {'type': 'AttributeLabelDataset', 'dataroot_target': str(image_folder),
            'meta_info_file': str(tmp_path / 'attrs.csv'), 'num_worker_per_gpu': 0}
    options = {
        'name': 'attiqa_pretrain_test', 'model_type': 'ATTIQAPretrainModel', 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {
            'train': {**data, 'name': 'train', 'augment': {'random_crop': 32}, 'use_shuffle': True,
                      'batch_size_per_gpu': 9, 'dataset_enlarge_ratio': 5},
            'val': {**data, 'name': 'val', 'augment': {'center_crop': 32}, 'batch_size_per_gpu': 9}},
        'network': {'type': 'ATTIQA', 'backbone': 'test_resnet', 'backbone_weights': 'random', 'head_hidden': 16},
        'path': {'pretrain_network': None, 'strict_load': True, 'resume_state': None},
        'train': {'optim': {'type': 'Adam', 'lr': 3e-3}, 'scheduler': {'type': 'MultiStepLR', 'milestones': [1000]},
                  'total_iter': 30, 'warmup_iter': -1,
                  'mos_loss_opt': {'type': 'AttributeRankingLoss', 'margin': 0.1, 'tie_threshold': 0.01}},
        'val': {'val_freq': 30, 'save_img': False, 'key_metric': 'srcc',
                'metrics': {'srcc': {'type': 'calculate_attribute_srcc'}}},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 1000, 'save_latest_freq': 1000, 'use_tb_logger': False},
    }
    recipe = tmp_path / 'pretrain.yml'
    recipe.write_text(yaml.safe_dump(options))
    monkeypatch.chdir(tmp_path)
    main(['train', '-opt', str(recipe)])
    # every run logs to its own experiment's file (training.pipeline), whatever ran before in this process
    log = next((tmp_path / 'experiments' / 'attiqa_pretrain_test').glob('train_*.log')).read_text()
    losses = [float(v) for v in re.findall(r'l_mos: ([0-9.e+-]+)', log)]
    assert len(losses) == 30
    assert np.mean(losses[-8:]) < 0.7 * np.mean(losses[:8])
    best = torch.load(tmp_path / 'experiments' / 'attiqa_pretrain_test' / 'models' / 'net_best.pth',
                      weights_only=True)['params']
    assert any(k.startswith('attribute_heads.sharpness.') for k in best)
    assert any(k.startswith('backbone.') for k in best)


def test_frozen_backbone_validation_is_equal_with_and_without_the_feature_cache(tmp_path):
    # a linear probe (freeze_backbone): each validation image goes through the backbone once
    from pyiqa_uniqa.testing.toy_datasets import write_toy_iqa_dataset
    from pyiqa_uniqa.training.measurement import runs_without_and_with_feature_cache
    write_toy_iqa_dataset(tmp_path / 'data')
    dataset = {'type': 'GeneralNRDataset', 'dataroot_target': str(tmp_path / 'data'),
               'meta_info_file': str(tmp_path / 'data' / 'meta.csv'),
               'split_file': str(tmp_path / 'data' / 'split.pkl'), 'split_index': 1,
               'batch_size_per_gpu': 4, 'num_worker_per_gpu': 0}
    recipe = {
        'name': 'attiqa_probe', 'model_type': 'FrozenBackboneIQAModel', 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {'train': {**dataset, 'name': 'toy_train', 'augment': {'hflip': True}, 'use_shuffle': True},
                     'val': {**dataset, 'name': 'toy_val'}},
        'network': {'type': 'ATTIQA', 'backbone': 'test_resnet', 'backbone_weights': 'random', 'head_hidden': 16,
                    'freeze_backbone': True},
        'path': {'pretrain_network': None},
        'train': {'optim': {'type': 'Adam', 'lr': 1e-2}, 'scheduler': {'type': 'CosineAnnealingLR', 'T_max': 2},
                  'total_iter': 8, 'mos_loss_opt': {'type': 'MSELoss', 'loss_weight': 1.0}},
        'val': {'val_freq': 4, 'save_img': False, 'metrics': {'srcc': {'type': 'calculate_srcc'}}},
        'logger': {'print_freq': 100, 'save_checkpoint_freq': 100, 'save_latest_freq': 100, 'use_tb_logger': False},
    }
    (tmp_path / 'probe.yml').write_text(yaml.safe_dump(recipe))
    uncached, cached = runs_without_and_with_feature_cache(tmp_path / 'probe.yml', tmp_path / 'runs')
    for without, with_cache in zip(uncached.val_scores, cached.val_scores):
        assert torch.allclose(without, with_cache, rtol=0, atol=1e-6)
    assert not torch.equal(cached.val_scores[0], cached.val_scores[-1])  # the heads trained
    assert [i for i, _ in cached.validations] == [4, 8, 8]  # pyiqa validates the final weights again
    assert uncached.tower_images['val'] == 3 * 4 and cached.tower_images['val'] == 4


def test_frozen_backbone_pretraining_validates_the_attributes_from_cached_features(image_folder, tmp_path):
    from pyiqa_uniqa.training.measurement import run_recipe, runs_without_and_with_feature_cache
    write_labels(image_folder, tmp_path / 'attrs.csv')
    data = {'type': 'AttributeLabelDataset', 'dataroot_target': str(image_folder),
            'meta_info_file': str(tmp_path / 'attrs.csv'), 'num_worker_per_gpu': 0, 'batch_size_per_gpu': 3}
    options = {
        'name': 'attiqa_frozen_pretrain', 'model_type': 'ATTIQAPretrainModel', 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {'train': {**data, 'name': 'train', 'augment': {'random_crop': 32}, 'use_shuffle': True},
                     'val': {**data, 'name': 'val', 'augment': {'center_crop': 32}}},
        'network': {'type': 'ATTIQA', 'backbone': 'test_resnet', 'backbone_weights': 'random', 'head_hidden': 16,
                    'freeze_backbone': True},
        'path': {'pretrain_network': None},
        'train': {'optim': {'type': 'Adam', 'lr': 1e-2}, 'scheduler': {'type': 'MultiStepLR', 'milestones': [1000]},
                  'total_iter': 6, 'mos_loss_opt': {'type': 'AttributeRankingLoss', 'margin': 0.1}},
        'val': {'val_freq': 3, 'save_img': False, 'metrics': {'srcc': {'type': 'calculate_attribute_srcc'}}},
        'logger': {'print_freq': 100, 'save_checkpoint_freq': 100, 'save_latest_freq': 100, 'use_tb_logger': False},
    }
    (tmp_path / 'pretrain.yml').write_text(yaml.safe_dump(options))
    uncached, cached = runs_without_and_with_feature_cache(tmp_path / 'pretrain.yml', tmp_path / 'runs')
    for without, with_cache in zip(uncached.val_scores, cached.val_scores):
        assert with_cache.shape[1] == len(ATTRIBUTES) and torch.allclose(without, with_cache, rtol=0, atol=1e-6)
    images = len(cached.val_scores[0])
    assert [i for i, _ in cached.validations] == [3, 6, 6]  # pyiqa validates the final weights again
    assert uncached.tower_images['val'] == 3 * images and cached.tower_images['val'] == images

    # training-feature reuse predicts the attributes too (the loss compares [B, 5] with [B, 5])
    reused = run_recipe(tmp_path / 'pretrain.yml', tmp_path / 'reuse', ['train:feature_reuse_views=1'])
    assert reused.val_scores[-1].shape[1] == len(ATTRIBUTES)
    assert uncached.tower_images['train'] == 2 * images and reused.tower_images['train'] == images  # one view each


def test_a_missing_backbone_file_is_one_preflight_line_and_nothing_is_created(image_folder, tmp_path, capsys,
                                                                              monkeypatch):
    from pyiqa_uniqa.apps.cli import main
    write_labels(image_folder, tmp_path / 'attrs.csv')
    data = {'type': 'AttributeLabelDataset', 'dataroot_target': str(image_folder),
            'meta_info_file': str(tmp_path / 'attrs.csv'), 'num_worker_per_gpu': 0, 'batch_size_per_gpu': 3}
    options = {
        'name': 'attiqa_preflight', 'model_type': 'ATTIQAPretrainModel', 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {'train': {**data, 'name': 'train'}, 'val': {**data, 'name': 'val'}},
        'network': {'type': 'ATTIQA', 'backbone': 'test_resnet', 'backbone_weights': 'imagenet_resnet.pth'},
        'path': {'pretrain_network': None},
        'train': {'optim': {'type': 'Adam', 'lr': 1e-3}, 'scheduler': {'type': 'MultiStepLR', 'milestones': [9]},
                  'total_iter': 1, 'mos_loss_opt': {'type': 'AttributeRankingLoss'}},
        'val': {'val_freq': 1, 'metrics': {'srcc': {'type': 'calculate_attribute_srcc'}}},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 9, 'save_latest_freq': 9, 'use_tb_logger': False},
    }
    (tmp_path / 'pretrain.yml').write_text(yaml.safe_dump(options))
    monkeypatch.chdir(tmp_path)
    assert main(['train', '-opt', 'pretrain.yml']) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[1].startswith(
        "  - network.backbone_weights: The given backbone_weights 'imagenet_resnet.pth' does not exist")
    assert not (tmp_path / 'experiments').exists() and not (tmp_path / 'tb_logger').exists()
