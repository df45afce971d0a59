"""UniQA's vision-language pre-training (arXiv 2406.01069): MOS-level-guided captions from an MLLM,
purified human aesthetic comments, contrastive training of both CLIP towers, and export of the
result in the official ``UniQA_weight.pt`` layout that the ``uniqa`` metrics load.

This file only declares names (torch-free).
"""

REGISTRY = {
    'archs': {'UniQAPretrainCLIP': 'pyiqa_uniqa.uniqa_pretrain.arch:UniQAPretrainCLIP'},
    'models': {'UniQAPretrainModel': 'pyiqa_uniqa.uniqa_pretrain.model:UniQAPretrainModel'},
    'losses': {'SymmetricContrastiveLoss': 'pyiqa_uniqa.uniqa_pretrain.contrastive_loss:SymmetricContrastiveLoss'},
    'datasets': {'ImageTextDataset': 'pyiqa_uniqa.uniqa_pretrain.image_text_dataset:ImageTextDataset'},
}
