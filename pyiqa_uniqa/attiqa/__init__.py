"""ATTIQA (arXiv 2406.01020): CLIP-guided attribute pseudo-labels, attribute-aware pre-training with a
ranking loss, MOS fine-tuning.

The paper body was not reachable; every unknown is our documented choice (see docs/attiqa.md).
This file only declares names (torch-free); modules are imported when a name is used.
"""
from pyiqa_uniqa.variants import TrainedFamily, Variant

# No official weights exist: each name expects a checkpoint you trained, given as pretrained_model_path=...
# (a file, an exported folder or 'hf-hub:ORG/REPO') or found under its weights_file name in pyiqa's cache dir.
VARIANTS = TrainedFamily(
    arch='ATTIQA', prefix='attiqa', default='koniq',  # 'attiqa' is the KonIQ model, as pyiqa's NR defaults
    what='The ATTIQA checkpoint (no official ATTIQA weights exist)',
    train=('`pyiqa-uniqa select-prompts --probe synthetic --out prompts.yml`, `pyiqa-uniqa label --images '
           '<unlabelled images> --prompts prompts.yml --out attrs.csv`, `pyiqa-uniqa train -opt '
           'options/attiqa/pretrain.yml`, then `pyiqa-uniqa train -opt {recipe}` (it saves '
           'experiments/attiqa_{dataset}/models/net_best.pth)'),
    variants=tuple(Variant(dataset, f'attiqa_{dataset}.pth', f'options/attiqa/{dataset}.yml')
                   for dataset in ('koniq', 'livec', 'spaq', 'flive', 'ava')))

METRICS = VARIANTS.metrics()

REGISTRY = {
    'archs': {'ATTIQA': 'pyiqa_uniqa.attiqa.arch:ATTIQA'},
    'models': {'ATTIQAPretrainModel': 'pyiqa_uniqa.attiqa.pretrain_model:ATTIQAPretrainModel'},
    'losses': {'AttributeRankingLoss': 'pyiqa_uniqa.attiqa.ranking_loss:AttributeRankingLoss'},
    'datasets': {'AttributeLabelDataset': 'pyiqa_uniqa.attiqa.dataset:AttributeLabelDataset'},
    'metrics': {'calculate_attribute_srcc': 'pyiqa_uniqa.attiqa.attribute_metrics:calculate_attribute_srcc'},
}
