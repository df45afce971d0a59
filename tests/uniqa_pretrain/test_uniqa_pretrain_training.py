"""Pre-training through `pyiqa-uniqa train`: captions -> contrastive steps -> full-CLIP checkpoint -> export."""
import math

import torch
import yaml

from pyiqa_uniqa.backbones import create_clip
from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.weights import read_checkpoint


def recipe(image_table, captions, **train_extra):
    root = str(image_table.parent)
    return {
        'name': 'pretrain_test', 'model_type': 'UniQAPretrainModel', 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {
            'train': {'name': 'pairs', 'type': 'ImageTextDataset', 'caption_files': [str(captions)],
                      'dataroot_target': root, 'clip_model': 'tiny-clip-quickgelu', 'crop': 'random', 'hflip': True,
                      'use_shuffle': True, 'batch_size_per_gpu': 4, 'num_worker_per_gpu': 0},
            'val': {'name': 'heldout', 'type': 'GeneralNRDataset', 'dataroot_target': root,
                    'meta_info_file': str(image_table), 'augment': {'resize': 224, 'center_crop': 224},
                    'batch_size_per_gpu': 1, 'num_worker_per_gpu': 0},
        },
        'network': {'type': 'UniQAPretrainCLIP', 'clip_model': 'tiny-clip-quickgelu', 'backbone_weights': 'random',
                    'train_text_tower': False},
        'path': {'pretrain_network': None, 'strict_load': True, 'resume_state': None},
        'train': {'optim': {'type': 'AdamW', 'lr': 1e-3, 'weight_decay': 0.1},
                  'scheduler': {'type': 'CosineAnnealingLR', 'T_max': 2, 'eta_min': 0},
                  'total_iter': 2, 'warmup_iter': -1, 'contrastive_loss_opt': {'type': 'SymmetricContrastiveLoss'},
                  **train_extra},
        'val': {'val_freq': 2, 'save_img': False, 'report_initial': True, 'key_metric': 'srcc',
                'metrics': {'srcc': {'type': 'calculate_srcc'}}},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 100, 'save_latest_freq': 100, 'use_tb_logger': False},
    }


def test_train_freezes_the_text_tower_saves_the_whole_clip_and_exports(image_table, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    captions = tmp_path / 'caps.jsonl'
    main(['caption', '--data', str(image_table), '--task', 'quality', '--model', 'template', '--split', 'train',
          '--out', str(captions), '--no-progress'])
    options = tmp_path / 'pretrain.yml'
    options.write_text(yaml.safe_dump(recipe(image_table, captions, accumulate_grad_batches=2,
                                             precision='auto', grad_clip_norm=1.0)))
    main(['train', '-opt', str(options), '--strict-options'])  # every option key is read by someone

    experiment = tmp_path / 'experiments' / 'pretrain_test'
    # every run logs to its own experiment's file (training.pipeline), whatever ran before in this process
    log = next(experiment.glob('train_*.log')).read_text()
    assert 'Validation of the initial weights on heldout, logged as iteration 0' in log
    assert 'l_contrastive' in log
    trained = read_checkpoint(experiment / 'models' / 'net_latest.pth')['params']
    torch.manual_seed(0)
    initial = create_clip('tiny-clip-quickgelu').state_dict()
    # the frozen text tower is in the checkpoint (the export needs it) and unchanged
    assert torch.equal(trained['clip.token_embedding.weight'], initial['token_embedding.weight'])
    assert torch.equal(trained['clip.transformer.resblocks.0.mlp.c_fc.weight'],
                       initial['transformer.resblocks.0.mlp.c_fc.weight'])
    assert not torch.equal(trained['clip.visual.conv1.weight'], initial['visual.conv1.weight'])
    assert trained['clip.logit_scale'] <= math.log(100)
    # the export finds the geometry in the experiment's options copy
    out = tmp_path / 'my_uniqa.pt'
    main(['export-backbone', str(experiment / 'models' / 'net_latest.pth'), '--out', str(out)])
    loaded = create_clip('tiny-clip-quickgelu', weights=out).state_dict()
    torch.testing.assert_close(loaded['visual.conv1.weight'], trained['clip.visual.conv1.weight'],
                               atol=1e-3, rtol=1e-3)  # official fp16 storage


def test_shipped_recipes_have_no_option_pyiqa_would_ignore():
    from pathlib import Path

    from pyiqa_uniqa.training.option_check import unknown_keys
    options = Path(__file__).resolve().parents[2] / 'options' / 'uniqa'
    for name in ('pretrain.yml', 'pretrain_demo.yml'):
        assert unknown_keys(yaml.safe_load((options / name).read_text())) == [], name
