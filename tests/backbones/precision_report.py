"""Print how far half-precision frozen towers move each family's scores from fp32.

    python tests/backbones/precision_report.py

The bundled photos, centre-cropped to 224 px, through every network of the frozen-feature
protocol (tiny random weights, seeded), in fp32, bf16 and fp16. Speed is not measured here: on a
CPU autocast emulates half precision and is slower than fp32 (the training docs have the figures).
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_frozen_protocol import NETWORKS, bundled_photos_224, half_precision_changes


def main():
    torch.set_num_threads(1)
    images = bundled_photos_224()
    print(f'{len(images)} bundled photos, 224 px, 1 torch thread')
    print(f'{"network":26} {"score range":>11} {"bf16 max|d|":>11} {"fp16 max|d|":>11}')
    for name, build in NETWORKS.items():
        reference, changes = half_precision_changes(build, images)
        spread = (reference.max() - reference.min()).item()
        print(f'{name:26} {spread:11.2e} {changes["bf16"]:11.1e} {changes["fp16"]:11.1e}')


if __name__ == '__main__':
    main()
