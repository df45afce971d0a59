"""CLIP-AGIQA (Tang et al., ICPR 2024, arXiv 2408.15098): quality of AI-generated images from a
frozen CLIP with learnable quality-level prompts and a small regression head.

This file only declares names (torch-free).
"""
from pyiqa_uniqa.variants import TrainedFamily, Variant

# No official weights were released: each name expects a checkpoint you trained (or a run folder of the
# official code, official_checkpoint=...), given as pretrained_model_path=... (a file, an exported folder or
# 'hf-hub:ORG/REPO') or found under its weights_file name in pyiqa's cache dir.
VARIANTS = TrainedFamily(
    arch='CLIPAGIQA', prefix='clip-agiqa', default='agiqa3k', what='The CLIP-AGIQA checkpoint',
    train='`pyiqa-uniqa train -opt {recipe}` (it saves experiments/clip_agiqa_{dataset}/models/net_best.pth)',
    variants=(  # score ranges: the datasets' MOS scales (the official trainer regresses the raw MOS)
        Variant('agiqa3k', 'clip_agiqa_agiqa3k.pth', 'options/clip_agiqa/agiqa3k.yml', score_range='0, 5'),
        Variant('aigciqa2023', 'clip_agiqa_aigciqa2023.pth', 'options/clip_agiqa/aigciqa2023.yml',
                score_range='0, 100'),
    ))

METRICS = VARIANTS.metrics()


REGISTRY = {
    'archs': {'CLIPAGIQA': 'pyiqa_uniqa.clip_agiqa.arch:CLIPAGIQA'},
    'models': {'CLIPAGIQAModel': 'pyiqa_uniqa.clip_agiqa.model:CLIPAGIQAModel'},
    'datasets': {'CLIPAGIQADataset': 'pyiqa_uniqa.clip_agiqa.dataset:CLIPAGIQADataset'},
}
