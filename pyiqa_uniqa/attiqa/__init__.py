"""ATTIQA (arXiv 2406.01020): CLIP-guided attribute pseudo-labels, attribute-aware pre-training with a
ranking loss, MOS fine-tuning.

The paper body was not reachable; every unknown is our documented choice (see docs/attiqa.md).
This file only declares names (torch-free); modules are imported when a name is used.
"""
from pyiqa_uniqa.parts import nr_metric

# No official weights exist: each name expects a checkpoint you trained, found as
# pretrained_model_path=... or under its weights_file name in pyiqa's cache dir.
FINETUNED_ON = ('koniq', 'livec', 'spaq', 'flive', 'ava')  # options/attiqa/<dataset>.yml

METRICS = {
    'attiqa': nr_metric('ATTIQA', weights_file='attiqa_koniq.pth'),  # KonIQ, as pyiqa's NR defaults
    **{f'attiqa-{dataset}': nr_metric('ATTIQA', weights_file=f'attiqa_{dataset}.pth') for dataset in FINETUNED_ON},
}

REGISTRY = {
    'archs': {'ATTIQA': 'pyiqa_uniqa.attiqa.arch:ATTIQA'},
    'models': {'ATTIQAPretrainModel': 'pyiqa_uniqa.attiqa.pretrain_model:ATTIQAPretrainModel'},
    'losses': {'AttributeRankingLoss': 'pyiqa_uniqa.attiqa.ranking_loss:AttributeRankingLoss'},
    'datasets': {'AttributeLabelDataset': 'pyiqa_uniqa.attiqa.dataset:AttributeLabelDataset'},
    'metrics': {'calculate_attribute_srcc': 'pyiqa_uniqa.attiqa.attribute_metrics:calculate_attribute_srcc'},
}
