"""DepictQA-style descriptive quality (DepictQA-Wild, arXiv 2405.18842): a vision-language model that
describes and compares image quality in words, with a confidence, plus a numeric score.

This file only declares names (torch-free).
"""
from pyiqa_uniqa.parts import fr_metric, nr_metric

METRICS = {
    'depictqa': nr_metric('DepictQA'),
    'depictqa-fr': fr_metric('DepictQA', reference=True),
}

REGISTRY = {
    'archs': {'DepictQA': 'pyiqa_uniqa.depictqa.arch:DepictQA'},
    'models': {'DepictQAModel': 'pyiqa_uniqa.depictqa.model:DepictQAModel'},
    'datasets': {'DQ495KDataset': 'pyiqa_uniqa.depictqa.dataset:DQ495KDataset'},
    'metrics': {
        'calculate_dq_distortion_accuracy': 'pyiqa_uniqa.depictqa.evaluation:calculate_dq_distortion_accuracy',
        'calculate_dq_ab_accuracy': 'pyiqa_uniqa.depictqa.evaluation:calculate_dq_ab_accuracy',
        'calculate_dq_level_accuracy': 'pyiqa_uniqa.depictqa.evaluation:calculate_dq_level_accuracy',
    },
}
