"""Any metric of this package built offline from tiny random weights written in the real formats.

One builder per arch type: it writes whatever files the arch needs (a CLIP in the official OpenAI
layout, a trained-part checkpoint under ``params`` as pyiqa saves it) into a folder and returns the
``create_metric`` options that point at them. The contract tests build every registered metric this
way, so a new metric name is tested as soon as it is declared, and a new arch type fails those tests
until it has a builder here.
"""
from pathlib import Path

import torch

from pyiqa_uniqa.configs import METRIC_CONFIGS
from pyiqa_uniqa.testing.official_checkpoints import write_official_clip_checkpoint

TINY_CLIP = 'tiny-clip-quickgelu'


def _tiny_clip(folder):
    path = Path(folder) / 'tiny_clip.pt'
    return path if path.is_file() else write_official_clip_checkpoint(path, 'tiny')


def _save_params(network, path):
    from pyiqa_uniqa.weights import trainable_state_dict
    torch.save({'params': trainable_state_dict(network)}, path)
    return str(path)


def _uniqa(folder, metric_opts):
    from pyiqa_uniqa.uniqa.arch import UniQA
    options = {'model_name': TINY_CLIP, 'backbone_weights': str(_tiny_clip(folder)), 'num_crops': 2}
    if metric_opts.get('use_adapter', True):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            network = UniQA(prompt_set=metric_opts.get('prompt_set', 'level'), use_adapter=True, **options)
        options['pretrained_model_path'] = _save_params(network, Path(folder) / f'uniqa_{metric_opts.get("prompt_set")}.pth')
    return options


def _attiqa(folder, metric_opts):
    from pyiqa_uniqa.attiqa.arch import ATTIQA
    options = {'backbone': 'test_resnet', 'head_hidden': 16}
    network = ATTIQA(backbone_weights='random', **options)
    return {**options, 'pretrained_model_path': _save_params(network, Path(folder) / 'attiqa.pth')}


def _clip_agiqa(folder, metric_opts):
    from pyiqa_uniqa.clip_agiqa.arch import CLIPAGIQA
    options = {'model_name': TINY_CLIP, 'backbone_weights': str(_tiny_clip(folder)), 'head_hidden': 16}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = CLIPAGIQA(**options)
    return {**options, 'pretrained_model_path': _save_params(network, Path(folder) / 'clip_agiqa.pth')}


def _depictqa(folder, metric_opts):
    return {'model_config': 'tiny'}


BUILDERS = {'UniQA': _uniqa, 'ATTIQA': _attiqa, 'CLIPAGIQA': _clip_agiqa, 'DepictQA': _depictqa}


def tiny_metric_options(name, folder):
    """``create_metric`` options that build metric ``name`` from tiny random files written into ``folder``."""
    metric_opts = METRIC_CONFIGS[name]['metric_opts']
    arch = metric_opts['type']
    if arch not in BUILDERS:
        raise KeyError(f'{name}: no tiny builder for arch type {arch!r} in pyiqa_uniqa/testing/tiny_metrics.py.')
    return BUILDERS[arch](folder, metric_opts)
