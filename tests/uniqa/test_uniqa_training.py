"""A shipped recipe trains end to end through `pyiqa-uniqa train` and its adapter loads as a metric."""
import argparse
import os
from pathlib import Path

import torch
import yaml

from pyiqa_uniqa.testing.toy_datasets import write_toy_iqa_dataset

RECIPE = Path(__file__).resolve().parents[2] / 'options' / 'uniqa' / 'livec.yml'


def test_livec_recipe_trains_and_its_adapter_loads(tmp_path, tiny_clip_checkpoint, monkeypatch):
    import pyiqa

    from pyiqa_uniqa.apps import train as command

    write_toy_iqa_dataset(tmp_path / 'data', 'nr')
    opt = yaml.safe_load(RECIPE.read_text())
    for dataset in opt['datasets'].values():  # the recipe, pointed at a 20-image toy set
        dataset.update(base_type='GeneralNRDataset', dataroot_target=str(tmp_path / 'data'), mos_range=[0, 19],
                       meta_info_file=str(tmp_path / 'data' / 'meta.csv'),
                       split_file=str(tmp_path / 'data' / 'split.pkl'), num_worker_per_gpu=0, batch_size_per_gpu=4)
    opt['network'].update(model_name='tiny-clip-quickgelu', backbone_weights=str(tiny_clip_checkpoint))
    opt['datasets']['train']['augment']['random_crop'] = 32  # the toy images are 40x48
    opt['network']['crop_size'] = 32
    opt.update(num_gpu=0)
    opt['train'].update(total_epoch=2)
    opt['val']['val_freq'] = 3
    opt['logger'].update(use_tb_logger=False, print_freq=1)
    (tmp_path / 'livec.yml').write_text(yaml.safe_dump(opt))

    monkeypatch.chdir(tmp_path)
    command.run(argparse.Namespace(opt='livec.yml', launcher='none', auto_resume=False, debug=False, local_rank=0,
                                   force_yml=None, strict_options=True))
    best = tmp_path / 'experiments' / 'uniqa_livec' / 'models' / 'net_best.pth'
    params = torch.load(best, weights_only=True)['params']
    assert set(params) == {'adapter.fc.0.weight', 'adapter.fc.2.weight', 'score_level'}
    assert not torch.equal(params['score_level'], torch.tensor([0.2, 0.4, 0.6, 0.8, 1.0]))  # it trained

    metric = pyiqa.create_metric('uniqa-livec', device='cpu', pretrained_model_path=str(best), crop_size=32,
                                 model_name='tiny-clip-quickgelu', backbone_weights=str(tiny_clip_checkpoint))
    assert torch.equal(metric.net.score_level.detach(), params['score_level'])
    assert os.path.getsize(best) < 50_000  # the adapter only, never the backbone
