"""Every ATTIQA / CLIP-AGIQA recipe uses only keys pyiqa (or our classes) read, and names real types."""
from pathlib import Path

import pytest
import yaml

OPTIONS = Path(__file__).resolve().parents[2] / 'options'
RECIPES = sorted(p for folder in ('attiqa', 'clip_agiqa') for p in (OPTIONS / folder).glob('*.yml')
                 if p.name != 'cross_dataset.yml')


@pytest.mark.parametrize('recipe', RECIPES, ids=lambda p: f'{p.parent.name}/{p.name}')
def test_recipe_keys_and_types(recipe):
    from pyiqa.utils.registry import (
        ARCH_REGISTRY,
        DATASET_REGISTRY,
        LOSS_REGISTRY,
        METRIC_REGISTRY,
        MODEL_REGISTRY,
    )

    from pyiqa_uniqa.training.option_check import unknown_keys
    opt = yaml.safe_load(recipe.read_text())
    assert unknown_keys(opt) == []
    MODEL_REGISTRY.get(opt['model_type'])
    ARCH_REGISTRY.get(opt['network']['type'])
    for dataset in opt['datasets'].values():
        DATASET_REGISTRY.get(dataset['type'])
    for key in ('mos_loss_opt', 'metric_loss_opt'):
        if key in opt['train']:
            LOSS_REGISTRY.get(opt['train'][key]['type'])
    for metric in opt['val']['metrics'].values():
        METRIC_REGISTRY.get(metric['type'])


def test_cross_dataset_recipe_names_attiqa_metrics():
    from pyiqa_uniqa.configs import METRIC_CONFIGS
    entries = yaml.safe_load((OPTIONS / 'attiqa' / 'cross_dataset.yml').read_text())
    assert entries and all(e['metric'] in METRIC_CONFIGS and e['pretrained_model_path'] for e in entries.values())
