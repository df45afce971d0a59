"""UniQA (arXiv 2406.01069): the quality scorer with its adapter, recipes support and demo, and the
vision-language pre-training pipeline. Importing this package is cheap: modules import torch,
open_clip and pyiqa themselves, and pyiqa finds the classes through ``pyiqa_uniqa.plugin``."""
