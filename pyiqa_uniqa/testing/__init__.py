"""Offline test kit: tiny model geometries, checkpoints written in the real formats, toy datasets.

Nothing here downloads. Tests and the demo use it in place of the real weights and datasets.
This file only declares names (torch-free).
"""

REGISTRY = {
    'archs': {'TinyIQANet': 'pyiqa_uniqa.testing.tiny_net:TinyIQANet'},
}
