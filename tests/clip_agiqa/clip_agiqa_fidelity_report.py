"""Print the largest difference between our CLIP-AGIQA scores and the official forward's.

    python tests/clip_agiqa/clip_agiqa_fidelity_report.py [--vit-b16]

For each official variant (the README command, the ``_ctxv1`` configs, ``CSC True``, ``PREC fp32``):
a run folder written by the official save sequence from a random official-layout CLIP (tiny
geometry; ``--vit-b16`` adds the real ViT-B/16 geometry with the official 3584 -> 512 -> 1 head),
loaded with ``pyiqa.create_metric('clip-agiqa', official_checkpoint=<folder>)``, scored on random
images against the re-computation of the official forward from the files' raw tensors.
"""
import sys
import tempfile
from pathlib import Path

import pyiqa
import torch

sys.path.insert(0, str(Path(__file__).parent))
from dassl_run import train_official
from test_clip_agiqa_official import VARIANTS, official_reference

from pyiqa_uniqa.testing.official_checkpoints import write_official_clip_checkpoint

GEOMETRIES = {'tiny': ('tiny-clip-quickgelu', 1, 2), 'ViT-B-16': ('ViT-B-16-quickgelu', 12, 8)}


def report(geometry, folder):
    model_name, vision_heads, text_heads = GEOMETRIES[geometry]
    clip_path = write_official_clip_checkpoint(folder / f'{geometry}.pt', geometry)
    clip_sd = torch.load(clip_path, weights_only=True)
    images = torch.rand(4, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    for variant, settings in VARIANTS.items():
        run = folder / f'{geometry}_{variant}'
        train_official(run, clip_sd, vision_heads=vision_heads, text_heads=text_heads, max_epoch=2, batches=1,
                       batch_size=2, **settings)
        metric = pyiqa.create_metric('clip-agiqa', device='cpu', official_checkpoint=str(run), model_name=model_name,
                                     backbone_weights=str(clip_path))
        expected = official_reference(clip_sd, run, variant, images, heads=(vision_heads, text_heads))[0]
        with torch.no_grad():
            ours = metric(images).reshape(-1)
        context = tuple(metric.net.prompt_learner.ctx.shape)
        print(f'{geometry:9s} {variant:7s} context {str(context):14s} max |ours - official| = '
              f'{(ours - expected).abs().max().item():.2e}  (scores {expected.abs().mean().item():.3f} on average)')


if __name__ == '__main__':
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        for geometry in ['tiny'] + (['ViT-B-16'] if '--vit-b16' in sys.argv else []):
            report(geometry, Path(tmp))
