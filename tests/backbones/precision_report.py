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
from test_frozen_protocol import NETWORKS

from pyiqa_uniqa.backbones.clip_input import resize_center_crop
from pyiqa_uniqa.data.images import image_to_tensor
from pyiqa_uniqa.data.photos import load_photos


def main():
    torch.set_num_threads(1)
    images = torch.stack([resize_center_crop(image_to_tensor(array)[None], 224)[0] for _, array in load_photos()])
    print(f'{len(images)} bundled photos, 224 px, 1 torch thread')
    print(f'{"network":26} {"score range":>11} {"bf16 max|d|":>11} {"fp16 max|d|":>11}')
    for name, build in NETWORKS.items():
        torch.manual_seed(0)
        net = build().eval()
        with torch.no_grad():
            reference = net(images)
            differences = []
            for precision in ('bf16', 'fp16'):
                net.precision = precision
                differences.append((net(images) - reference).abs().max().item())
        spread = (reference.max() - reference.min()).item()
        print(f'{name:26} {spread:11.2e} {differences[0]:11.1e} {differences[1]:11.1e}')


if __name__ == '__main__':
    main()
