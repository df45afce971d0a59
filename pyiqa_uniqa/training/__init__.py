"""Training through pyiqa's own pipeline, with the traps that bite our models fixed.

This file only declares names (torch-free).
"""

REGISTRY = {
    'models': {'FrozenBackboneIQAModel': 'pyiqa_uniqa.training.base_model:FrozenBackboneIQAModel'},
}
