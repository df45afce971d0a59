"""CLIP-AGIQA (Tang et al., ICPR 2024, arXiv 2408.15098): quality of AI-generated images from a
frozen CLIP with learnable quality-level prompts and a small regression head.

This file only declares names (torch-free).
"""
from pyiqa_uniqa.parts import nr_metric

# No official weights were released: each name expects a checkpoint you trained (or one written by
# the official code), found as pretrained_model_path=... or under its weights_file in pyiqa's cache dir.
METRICS = {
    'clip-agiqa': nr_metric('CLIPAGIQA', score_range='0, 5', weights_file='clip_agiqa_agiqa3k.pth'),
    'clip-agiqa-agiqa3k': nr_metric('CLIPAGIQA', score_range='0, 5', weights_file='clip_agiqa_agiqa3k.pth'),
    'clip-agiqa-aigciqa2023': nr_metric('CLIPAGIQA', score_range='0, 100', weights_file='clip_agiqa_aigciqa2023.pth'),
}


REGISTRY = {
    'archs': {'CLIPAGIQA': 'pyiqa_uniqa.clip_agiqa.arch:CLIPAGIQA'},
    'models': {'CLIPAGIQAModel': 'pyiqa_uniqa.clip_agiqa.model:CLIPAGIQAModel'},
    'datasets': {'CLIPAGIQADataset': 'pyiqa_uniqa.clip_agiqa.dataset:CLIPAGIQADataset'},
}
