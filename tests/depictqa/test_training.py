"""A very short `pyiqa-uniqa train` run: answer loss, validation accuracies, delta-only checkpoints."""
import json

import torch
import yaml


def test_short_training_run_saves_only_the_delta(built_dq, tmp_path, monkeypatch):
    from pyiqa_uniqa.apps.cli import main
    from pyiqa_uniqa.depictqa.arch import DepictQA
    from pyiqa_uniqa.weights import read_checkpoint, unwrap_params
    data = {'type': 'DQ495KDataset', 'resize': 64, 'max_size': 128, 'min_size': 16, 'num_worker_per_gpu': 0,
            'batch_size_per_gpu': 1}
    test_records = json.loads(built_dq['test'].read_text())
    (tmp_path / 'val.json').write_text(json.dumps(test_records[::6]))  # a few of each kind
    for record in json.loads((tmp_path / 'val.json').read_text()):
        for field in ('image_ref', 'image_A', 'image_B'):
            assert record[field] is None or (built_dq['test'].parent / record[field]).is_file()
    options = {
        'name': 'dq_short', 'model_type': 'DepictQAModel', 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {
            'train': dict(data, name='train', meta_info_file=str(built_dq['train']), use_shuffle=True),
            'val': dict(data, name='heldout', meta_info_file=str(tmp_path / 'val.json'),
                        dataroot_target=str(built_dq['test'].parent)),
        },
        'network': {'type': 'DepictQA', 'model_config': 'tiny'},
        'path': {'pretrain_network': None, 'strict_load': True, 'resume_state': None},
        'train': {'optim': {'type': 'AdamW', 'lr': 3e-3}, 'scheduler': {'type': 'CosineAnnealingLR', 'T_max': 1},
                  'total_iter': 6, 'warmup_iter': -1, 'grad_clip_norm': 1.0},
        'val': {'val_freq': 6, 'save_img': False, 'key_metric': 'distortion_accuracy',
                'metrics': {'distortion_accuracy': {'type': 'calculate_dq_distortion_accuracy'},
                            'ab_accuracy': {'type': 'calculate_dq_ab_accuracy'}}},
        'logger': {'print_freq': 3, 'save_checkpoint_freq': 6, 'save_latest_freq': 6, 'use_tb_logger': False},
    }
    (tmp_path / 'opt.yml').write_text(yaml.safe_dump(options))
    monkeypatch.chdir(tmp_path)
    # pyiqa adds the log file only to a logger it has not configured before in this process
    monkeypatch.setattr('pyiqa.utils.logger.initialized_logger', {})
    assert main(['train', '-opt', 'opt.yml', '--strict-options']) == 0

    experiment = tmp_path / 'experiments' / 'dq_short'
    log = next(experiment.glob('train_*.log')).read_text()
    assert 'l_answer' in log and 'distortion_accuracy' in log and 'ab_accuracy' in log
    checkpoint = unwrap_params(read_checkpoint(experiment / 'models' / 'net_latest.pth'))
    net = DepictQA('tiny')
    assert set(checkpoint) == set(net.trainable_state_dict())  # LoRA + projector only, official names
    assert 'vision_proj.weight' in checkpoint and all('lora_' in k or k.startswith('vision_proj') for k in checkpoint)
    trained = DepictQA('tiny', pretrained_model_path=experiment / 'models' / 'net_latest.pth')
    changed = [k for k, v in trained.trainable_state_dict().items() if not torch.equal(v, net.trainable_state_dict()[k])]
    assert 'vision_proj.weight' in changed and any('lora_B' in k for k in changed)
