"""Run folders written by the official CLIP-AGIQA trainer load unchanged and give the official scores.

Each run folder comes from the official save sequence (``dassl_run``: real SGD, Dassl's warm-up
around CosineAnnealingLR, ``torch.save`` of the Dassl dict per part); the official scores are
re-computed from the raw tensors of its files by ``clip_agiqa_reference`` (plain tensor ops).
"""
import os
import shutil

import open_clip
import pyiqa
import pytest
import torch
from clip_agiqa_reference import official_scores
from dassl_run import LEVELS, train_official

from pyiqa_uniqa.clip_agiqa.arch import CLIPAGIQA
from pyiqa_uniqa.testing.official_checkpoints import write_official_clip_checkpoint
from pyiqa_uniqa.weights import (
    CheckpointMismatchError,
    CorruptWeightsError,
    UnsafeWeightsError,
    WeightsNotFoundError,
    read_checkpoint,
)

EPOCHS = 3
# name -> (official settings, the context words or None for N_CTX "X" placeholders)
VARIANTS = {
    'readme': dict(n_ctx=16),  # bash scripts/main.sh AGIQA vit_b16_ep100 end 16 1 False (PREC fp16)
    'ctxv1': dict(ctx_init='a photo of a'),  # configs/trainers/CLIP_AGIQA/*_ctxv1.yaml
    'csc': dict(n_ctx=4, class_specific=True),  # CSC True: one context per level
    'fp32': dict(n_ctx=8, precision='fp32'),  # PREC fp32/amp: the context saved in fp32
}


class Payload:
    """An object whose unpickling would create ``marker``."""
    marker = None

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


@pytest.fixture(scope='module')
def clip_sd(tiny_clip_checkpoint):
    return torch.load(tiny_clip_checkpoint, weights_only=True)


@pytest.fixture(scope='module')
def TINY(tiny_clip_checkpoint):
    return {'model_name': 'tiny-clip-quickgelu', 'backbone_weights': str(tiny_clip_checkpoint)}


@pytest.fixture(scope='module', params=VARIANTS)
def run(request, tmp_path_factory, clip_sd):
    folder = tmp_path_factory.mktemp(f'official_{request.param}')
    train_official(folder, clip_sd, vision_heads=1, text_heads=2, max_epoch=EPOCHS, **VARIANTS[request.param])
    return request.param, folder


def official_file(folder, part, name='model-best.pth.tar'):
    """The file as the official ``load_checkpoint`` reads it (a full unpickle: our own test file)."""
    return torch.load(folder / part / name, map_location='cpu', weights_only=False)


def official_reference(clip_sd, folder, variant, images, name='model-best.pth.tar', heads=(1, 2)):
    settings = VARIANTS[variant]
    prefix = settings.get('ctx_init') or ' '.join(['X'] * settings['n_ctx'])
    tokens = open_clip.tokenize([f'{prefix} {level}.' for level in LEVELS])
    prompt, head = (official_file(folder, part, name)['state_dict'] for part in ('prompt_learner', 'regression'))
    return official_scores(clip_sd, prompt, head, images, tokens, *heads), prompt, head


def test_official_run_scores_like_the_official_forward(run, clip_sd, TINY):
    variant, folder = run
    metric = pyiqa.create_metric('clip-agiqa', device='cpu', official_checkpoint=str(folder), **TINY)
    images = torch.rand(3, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    expected, prompt, head = official_reference(clip_sd, folder, variant, images)
    with torch.no_grad():
        scores = metric(images).reshape(-1)
    assert torch.allclose(scores, expected, atol=1e-5), (scores, expected)
    net = metric.net
    # the context length and kind come from the file; its values load exactly (fp16 -> fp32)
    assert torch.equal(net.prompt_learner.ctx, prompt['ctx'].float())
    assert torch.equal(net.regressor[1].weight, head['1.weight']) and torch.equal(net.regressor[4].bias, head['4.bias'])


def test_the_files_pickle_scheduler_objects_that_a_weights_only_load_refuses(run):
    # why a plain safe load cannot read them: the warm-up scheduler keeps the cosine one, optimizer and all
    _, folder = run
    with pytest.raises(UnsafeWeightsError, match='CosineAnnealingLR|SGD|defaultdict'):
        read_checkpoint(folder / 'prompt_learner' / 'model-best.pth.tar')
    scheduler = official_file(folder, 'prompt_learner')['scheduler']
    assert type(scheduler['successor']).__name__ == 'CosineAnnealingLR'


@pytest.fixture()
def readme_run(tmp_path, clip_sd):
    train_official(tmp_path / 'run', clip_sd, vision_heads=1, text_heads=2, max_epoch=2, n_ctx=16)
    return tmp_path / 'run'


def test_official_epoch_file(readme_run, clip_sd, TINY):
    net = CLIPAGIQA(official_checkpoint=readme_run, official_epoch=2, **TINY)
    images = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    expected = official_reference(clip_sd, readme_run, 'readme', images, 'model.pth.tar-2')[0]
    with torch.no_grad():
        assert torch.allclose(net(images).reshape(-1), expected, atol=1e-5)


def test_objects_in_the_file_never_run(readme_run, tmp_path, TINY):
    marker = tmp_path / 'pwned'
    Payload.marker = marker
    images = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        before = CLIPAGIQA(official_checkpoint=readme_run, **TINY)(images)
    path = readme_run / 'prompt_learner' / 'model-best.pth.tar'
    checkpoint = official_file(readme_run, 'prompt_learner')
    torch.save({**checkpoint, 'scheduler': Payload(), 'val_result': Payload()}, path)
    with torch.no_grad():
        after = CLIPAGIQA(official_checkpoint=readme_run, **TINY)(images)
    assert torch.equal(before, after) and not marker.exists()
    torch.save({**checkpoint, 'state_dict': {**checkpoint['state_dict'], 'ctx': Payload()}}, path)
    with pytest.raises(CorruptWeightsError, match=f'{path}.*not tensors.*ctx'):
        CLIPAGIQA(official_checkpoint=readme_run, **TINY)
    assert not marker.exists()
    official_file(readme_run, 'prompt_learner')  # a full unpickle, as the official loader does, runs it
    assert marker.exists()


def test_wrong_folders_and_files_are_named(readme_run, tmp_path, TINY):
    with pytest.raises(WeightsNotFoundError, match='official_checkpoint=.*nowhere.*prompt_learner/ and regression/'):
        CLIPAGIQA(official_checkpoint=tmp_path / 'nowhere', **TINY)
    for part in ('prompt_learner', 'regression'):
        (readme_run / part / 'model-best.pth.tar').unlink()
    with pytest.raises(WeightsNotFoundError,
                       match=r'model-best.pth.tar does not exist.*model.pth.tar-2.*official_epoch'):
        CLIPAGIQA(official_checkpoint=readme_run, **TINY)
    regression = readme_run / 'regression' / 'model.pth.tar-2'
    data = regression.read_bytes()
    regression.write_bytes(data[:len(data) // 2])
    with pytest.raises(CorruptWeightsError, match=f'{regression} is truncated'):
        CLIPAGIQA(official_checkpoint=readme_run, official_epoch=2, **TINY)
    regression.write_bytes(data)
    shutil.copy(regression, readme_run / 'prompt_learner' / 'model.pth.tar-2')
    with pytest.raises(CorruptWeightsError, match='no ctx'):
        CLIPAGIQA(official_checkpoint=readme_run, official_epoch=2, **TINY)


def test_prompts_built_from_another_clip_or_other_levels_are_caught(readme_run, TINY, tmp_path):
    other_clip = write_official_clip_checkpoint(tmp_path / 'other_clip.pt', 'tiny', seed=1)
    with pytest.warns(UserWarning, match='other CLIP weights'):
        CLIPAGIQA(official_checkpoint=readme_run, model_name=TINY['model_name'], backbone_weights=str(other_clip))
    with pytest.raises(CheckpointMismatchError, match='6 quality levels.*class_names'):
        CLIPAGIQA(official_checkpoint=readme_run, class_names=LEVELS[:5], **TINY)
