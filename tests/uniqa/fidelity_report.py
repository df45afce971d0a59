"""Print the largest difference between our UniQA scores and the official forward's.

    python tests/uniqa/fidelity_report.py [--vit-b16]

Random official-layout checkpoints (tiny geometry; ``--vit-b16`` adds the real UniQA_weight.pt
geometry) and a random adapter, every prompt set, both positional-embedding settings, training
mode (one 224 crop) and eval mode (the official five crops and our ten seeded crops).
"""
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from official_reference import official_crop_scores, official_scores
from test_uniqa_fidelity import random_adapter_checkpoint

from pyiqa_uniqa.testing.official_checkpoints import write_official_clip_checkpoint
from pyiqa_uniqa.uniqa.arch import UniQA
from pyiqa_uniqa.uniqa.crops import five_crop_offsets, random_crop_offsets
from pyiqa_uniqa.uniqa.prompts import PROMPT_SETS, flat_prompts
from pyiqa_uniqa.weights import read_checkpoint

GEOMETRIES = {'tiny': ('tiny-clip-quickgelu', 32, 1, 2), 'ViT-B-16': ('ViT-B-16-quickgelu', 512, 12, 8)}


def report(geometry, folder):
    model_name, dim, vision_heads, text_heads = GEOMETRIES[geometry]
    clip_path = write_official_clip_checkpoint(folder / f'{geometry}.pt', geometry)
    adapter_path, head = random_adapter_checkpoint(folder / f'{geometry}_adapter.pth', dim)
    clip_sd = read_checkpoint(clip_path)
    torch.manual_seed(0)
    images = torch.rand(2, 3, 260, 300)
    for prompt_set in PROMPT_SETS:
        for pos in (True, False):
            model = UniQA(backbone_weights=str(clip_path), pretrained_model_path=str(adapter_path), model_name=model_name,
                          prompt_set=prompt_set, pos_embedding=pos)
            kw = {'prompts': flat_prompts(prompt_set), 'pos_embedding': pos, 'vision_heads': vision_heads,
                  'text_heads': text_heads}
            diffs = []
            with torch.no_grad():
                crop = images[:, :, :224, :224]
                diffs.append((model.train()(crop) - official_scores(clip_sd, head, crop, **kw)).abs().max())
                model.eval()
                for mode, offsets in (('five', five_crop_offsets(260, 300, 224)),
                                      ('random', random_crop_offsets(260, 300, 224, 10))):
                    model.test_crops = mode
                    expected = official_crop_scores(clip_sd, head, images, offsets, 224, **kw)
                    diffs.append((model(images) - expected).abs().max())
            print(f'{geometry:<9} prompt_set={prompt_set:<9} pos_embedding={pos!s:<5} '
                  f'max |ours - official| = {max(diffs).item():.2e}')


if __name__ == '__main__':
    with tempfile.TemporaryDirectory() as tmp:
        for geometry in ['tiny'] + (['ViT-B-16'] if '--vit-b16' in sys.argv else []):
            report(geometry, Path(tmp))
