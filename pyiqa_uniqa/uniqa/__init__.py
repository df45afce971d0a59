"""UniQA (arXiv 2406.01069) quality scoring: the frozen UniQA CLIP, its residual adapter, prompts and
test-time crops, and the offline demo. The pre-training pipeline is ``pyiqa_uniqa.uniqa_pretrain``.

This file only declares names (torch-free); modules import torch, open_clip and pyiqa themselves.
"""
from pyiqa_uniqa.parts import nr_metric


def _adapter_metric(dataset, prompt_set='level'):
    # no official adapters exist: the user trains one with the dataset's recipe; the arch takes it as
    # pretrained_model_path=... or finds it in pyiqa's cache dir as uniqa_<dataset>_adapter.pth, and
    # otherwise names the file, the recipe and where to put it
    return nr_metric('UniQA', prompt_set=prompt_set, use_adapter=True, weights_file=f'uniqa_{dataset}_adapter.pth',
                     adapter_recipe=f'options/uniqa/{dataset}.yml')


METRICS = {
    # zero-shot with the official prompt ensemble: the paper's strongest zero-shot setting (UniQA*)
    'uniqa': nr_metric('UniQA', prompt_set='ensemble', use_adapter=False),
    'uniqa-level': nr_metric('UniQA', prompt_set='level', use_adapter=False),
    'uniqa-koniq': _adapter_metric('koniq'),
    'uniqa-livec': _adapter_metric('livec'),
    'uniqa-spaq': _adapter_metric('spaq'),
    'uniqa-kadid': _adapter_metric('kadid'),
    'uniqa-ava': _adapter_metric('ava'),
    'uniqa-aadb': _adapter_metric('aadb'),
    'uniqa-agiqa3k': _adapter_metric('agiqa3k', prompt_set='aigc'),
}

REGISTRY = {
    'archs': {'UniQA': 'pyiqa_uniqa.uniqa.arch:UniQA'},
}
