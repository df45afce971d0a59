"""Entry-point targets for pyiqa's five registries.

pyiqa loads every plugin's entry points on its first registry lookup, even for ``psnr``, so these
functions only record import paths (``register_lazy``); the classes are imported when used.
One function per group: pyiqa calls each entry point's target once per group it is listed in.
"""

# group -> {registered name: 'module:attribute'}; each family owns its lines.
LAZY_REGISTRATIONS = {
    'archs': {
        'UniQA': 'pyiqa_uniqa.uniqa.arch:UniQA',
        'UniQAPretrainCLIP': 'pyiqa_uniqa.uniqa.pretrain_arch:UniQAPretrainCLIP',
        'ATTIQA': 'pyiqa_uniqa.attiqa.arch:ATTIQA',
        'CLIPAGIQA': 'pyiqa_uniqa.clip_agiqa.arch:CLIPAGIQA',
        'DepictQA': 'pyiqa_uniqa.depictqa.arch:DepictQA',
        'TinyIQANet': 'pyiqa_uniqa.testing.tiny_net:TinyIQANet',
    },
    'models': {
        'FrozenBackboneIQAModel': 'pyiqa_uniqa.training.base_model:FrozenBackboneIQAModel',
        'UniQAPretrainModel': 'pyiqa_uniqa.uniqa.pretrain_model:UniQAPretrainModel',
        'DepictQAModel': 'pyiqa_uniqa.depictqa.model:DepictQAModel',
        'ATTIQAPretrainModel': 'pyiqa_uniqa.attiqa.pretrain_model:ATTIQAPretrainModel',
    },
    'losses': {
        'SymmetricContrastiveLoss': 'pyiqa_uniqa.uniqa.contrastive_loss:SymmetricContrastiveLoss',
        'AttributeRankingLoss': 'pyiqa_uniqa.attiqa.ranking_loss:AttributeRankingLoss',
    },
    'datasets': {
        'PhotoDistortionNRDataset': 'pyiqa_uniqa.data.photo_datasets:PhotoDistortionNRDataset',
        'PhotoDistortionFRDataset': 'pyiqa_uniqa.data.photo_datasets:PhotoDistortionFRDataset',
        'DQ495KDataset': 'pyiqa_uniqa.depictqa.dataset:DQ495KDataset',
        'AttributeLabelDataset': 'pyiqa_uniqa.attiqa.dataset:AttributeLabelDataset',
        'ImageTextDataset': 'pyiqa_uniqa.uniqa.image_text_dataset:ImageTextDataset',
        'CarvedSplitNRDataset': 'pyiqa_uniqa.uniqa.carved_split:CarvedSplitNRDataset',
    },
    'metrics': {
        'calculate_dq_distortion_accuracy': 'pyiqa_uniqa.depictqa.evaluation:calculate_dq_distortion_accuracy',
        'calculate_dq_ab_accuracy': 'pyiqa_uniqa.depictqa.evaluation:calculate_dq_ab_accuracy',
        'calculate_dq_level_accuracy': 'pyiqa_uniqa.depictqa.evaluation:calculate_dq_level_accuracy',
        'calculate_attribute_srcc': 'pyiqa_uniqa.attiqa.attribute_metrics:calculate_attribute_srcc',
    },
}


def _register(group):
    from pyiqa.utils import registry

    target_registry = {
        'archs': registry.ARCH_REGISTRY,
        'models': registry.MODEL_REGISTRY,
        'losses': registry.LOSS_REGISTRY,
        'datasets': registry.DATASET_REGISTRY,
        'metrics': registry.METRIC_REGISTRY,
    }[group]
    for name, target in LAZY_REGISTRATIONS[group].items():
        try:
            target_registry.register_lazy(name, target)
        except AssertionError:
            pass  # the name is taken (pyiqa or another plugin): theirs wins, as with metric configs


def register_archs():
    _register('archs')


def register_models():
    _register('models')


def register_losses():
    _register('losses')


def register_datasets():
    _register('datasets')


def register_metrics():
    _register('metrics')
