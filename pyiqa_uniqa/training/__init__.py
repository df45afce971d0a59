"""Training through pyiqa's own pipeline, with the traps that bite our models fixed.

This file only declares names (torch-free).
"""

REGISTRY = {
    'models': {'FrozenBackboneIQAModel': 'pyiqa_uniqa.training.base_model:FrozenBackboneIQAModel'},
}

COMMANDS = {
    'train': ('pyiqa_uniqa.training.command', "train with pyiqa's pipeline on an options YAML"),
    'bench-train': ('pyiqa_uniqa.training.bench_train_command',
                    'time a training recipe with and without the validation feature cache'),
}
