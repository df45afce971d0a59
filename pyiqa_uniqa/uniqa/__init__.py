"""UniQA (arXiv 2406.01069) quality scoring: the frozen UniQA CLIP, its residual adapter, prompts and
test-time crops, and the offline demo. The pre-training pipeline is ``pyiqa_uniqa.uniqa_pretrain``.

This file only declares names (torch-free); modules import torch, open_clip and pyiqa themselves.
"""
from pyiqa_uniqa.parts import nr_metric
from pyiqa_uniqa.variants import TrainedFamily, Variant

# No official adapters exist: each adapter metric expects one the user trained with its recipe, given as
# pretrained_model_path=... (a file, an exported folder or 'hf-hub:ORG/REPO') or found in pyiqa's cache dir.
VARIANTS = TrainedFamily(
    arch='UniQA', prefix='uniqa', options=(('use_adapter', True),),
    what='The UniQA adapter (no official adapters exist)',
    train=('`pyiqa-uniqa train -opt {recipe}` (a recipe of the pyiqa-uniqa repository; the adapter is '
           'experiments/<name>/models/net_best.pth)'),
    variants=tuple(Variant(dataset, f'uniqa_{dataset}_adapter.pth', f'options/uniqa/{dataset}.yml',
                           prompt_set='aigc' if dataset == 'agiqa3k' else 'level')
                   for dataset in ('koniq', 'livec', 'spaq', 'kadid', 'ava', 'aadb', 'agiqa3k')))

METRICS = {
    # zero-shot with the official prompt ensemble: the paper's strongest zero-shot setting (UniQA*)
    'uniqa': nr_metric('UniQA', prompt_set='ensemble', use_adapter=False),
    'uniqa-level': nr_metric('UniQA', prompt_set='level', use_adapter=False),
    **VARIANTS.metrics(),
}

REGISTRY = {
    'archs': {'UniQA': 'pyiqa_uniqa.uniqa.arch:UniQA'},
}
