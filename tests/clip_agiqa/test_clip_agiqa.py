"""CLIP-AGIQA: only context + head train and are saved; prompts re-encoded only when needed."""
import pytest
import torch

from pyiqa_uniqa.backbones.frozen import has_frozen_features
from pyiqa_uniqa.clip_agiqa.arch import CLIPAGIQA, QUALITY_LEVELS


@pytest.fixture(scope='module')
def TINY(tiny_clip_checkpoint):
    # fixed CLIP weights from a file: the checkpoint of context + head only fits the same CLIP
    return {'model_name': 'tiny-clip-quickgelu', 'backbone_weights': str(tiny_clip_checkpoint)}


@pytest.fixture(scope='module')
def net(TINY):
    torch.manual_seed(0)
    return CLIPAGIQA(context_init='a photo of a', **TINY)  # the official _ctxv1 configs


def test_default_context_is_the_official_readme_command(TINY):
    # N_CTX 16, CTX_INIT "", CSC False: 16 random vectors shared by the six levels
    ctx = CLIPAGIQA(**TINY).prompt_learner.ctx
    assert ctx.shape == (16, 32) and 0.01 < ctx.std().item() < 0.03
    per_level = CLIPAGIQA(n_ctx=4, class_specific_context=True, **TINY).prompt_learner
    assert per_level.ctx.shape == (len(QUALITY_LEVELS), 4, 32) and per_level().shape[:2] == (6, 77)
    with pytest.raises(ValueError, match='context_init'):
        CLIPAGIQA(context_init='a photo of a', class_specific_context=True, **TINY)


def test_checkpoint_holds_only_the_context_and_the_head(net):
    keys = set(net.state_dict())
    assert keys == {'prompt_learner.ctx', 'regressor.1.weight', 'regressor.1.bias', 'regressor.4.weight',
                    'regressor.4.bias'}
    assert net.prompt_learner.ctx.shape[0] == 4  # 'a photo of a'
    assert net.regressor[1].in_features == 32 * (len(QUALITY_LEVELS) + 1)  # image + six prompts
    assert {id(p) for p in net.parameters()}.isdisjoint(id(p) for p in net.clip.parameters())


def test_gradient_reaches_the_context_through_the_frozen_text_tower_only(net):
    net.train()
    net.zero_grad()
    net(torch.rand(3, 3, 230, 250)).pow(2).mean().backward()
    assert net.prompt_learner.ctx.grad.abs().sum() > 0 and net.regressor[1].weight.grad is not None
    assert all(p.grad is None for p in net.clip.parameters())
    assert not net.clip.training  # train() leaves the frozen CLIP in eval mode
    net.eval()


def test_eval_encodes_prompts_once_until_the_context_changes(net, monkeypatch):
    from pyiqa_uniqa.clip_agiqa import arch
    calls = []
    original = arch.encode_text_embeddings
    monkeypatch.setattr(arch, 'encode_text_embeddings', lambda *a: calls.append(1) or original(*a))
    net.eval()
    with torch.no_grad():
        first = net(torch.rand(2, 3, 224, 224))
        net(torch.rand(2, 3, 224, 224))
        assert len(calls) <= 1
        net.prompt_learner.ctx.add_(0.5)
        image = torch.rand(1, 3, 224, 224)
        changed = net(image)
    assert len(calls) == 2 and first.shape == (2, 1) and changed.shape == (1, 1)
    with torch.no_grad():
        net.prompt_learner.ctx.sub_(0.5)


def test_checkpoint_round_trip_metric_and_errors(net, TINY, tmp_path):
    import pyiqa

    from pyiqa_uniqa.weights import WeightsNotFoundError
    path = tmp_path / 'clip_agiqa_agiqa3k.pth'
    torch.save({'params': net.state_dict()}, path)
    image = torch.rand(2, 3, 224, 224)
    metric = pyiqa.create_metric('clip-agiqa', device='cpu', pretrained_model_path=str(path), **TINY)
    with torch.no_grad():
        assert torch.allclose(metric(image), net.eval()(image), atol=1e-5)
    # each metric names the recipe that trains its checkpoint, and the keyword that takes one
    for name, recipe in (('clip-agiqa', 'agiqa3k'), ('clip-agiqa-aigciqa2023', 'aigciqa2023')):
        with pytest.raises(WeightsNotFoundError, match=f'options/clip_agiqa/{recipe}.yml.*pretrained_model_path='):
            pyiqa.create_metric(name, device='cpu', **TINY)
    # the context length comes from the file (4, 'a photo of a'), whatever n_ctx says; the head must fit
    assert CLIPAGIQA(n_ctx=8, pretrained_model_path=str(path), **TINY).prompt_learner.ctx.shape == (4, 32)
    with pytest.raises(ValueError, match='does not fit'):
        CLIPAGIQA(class_names=QUALITY_LEVELS[:5], pretrained_model_path=str(path), **TINY)


def test_official_split_and_meta_info(tmp_path):
    import numpy as np
    import pandas as pd
    from scipy.io import savemat

    from pyiqa_uniqa.apps.agiqa_meta_info import (
        agiqa3k_table,
        aigciqa2023_table,
        official_split,
    )
    split = official_split(2982)
    assert split.count('test') == 597 and split == official_split(2982)
    data = tmp_path / 'data.csv'
    pd.DataFrame({'name': [f'img{i}.jpg' for i in range(10)], 'prompt': ['p'] * 10,
                  'mos_quality': np.linspace(0, 5, 10), 'mos_align': np.ones(10)}).to_csv(data, index=False)
    table = agiqa3k_table(data)
    assert list(table.columns) == ['img_name', 'mos', 'split'] and table['split'].tolist().count('test') == 2
    with pytest.raises(ValueError, match='mos_quality'):
        agiqa3k_table(data, target='nope')
    savemat(tmp_path / 'mosz1.mat', {'MOSz': np.arange(5.0).reshape(5, 1)})
    table = aigciqa2023_table(tmp_path / 'mosz1.mat')
    assert table['img_name'].tolist()[2] == 'Image/allimg/2.png' and table['mos'].tolist()[2] == 2.0


def test_frozen_features_are_reused_exactly_while_the_trained_parts_change(TINY):
    torch.manual_seed(0)
    net = CLIPAGIQA(**TINY).eval()
    images = torch.rand(2, 3, 240, 260)
    with torch.no_grad():
        features = net.frozen_features(images)
        assert features.shape == (2, 1, 32) and torch.allclose(features.norm(dim=-1), torch.ones(2, 1))
        net.prompt_learner.ctx.add_(0.3)
        net.regressor[4].bias.add_(1.0)
        assert torch.equal(net(images), net.forward_from_features(features))
    key = net.frozen_features_key()
    assert key != net.train().frozen_features_key() and key == net.eval().frozen_features_key()
    assert has_frozen_features(net)  # trainers may cache them


@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
def test_half_precision_clip_scores_close_to_fp32(TINY, precision):
    torch.manual_seed(0)
    fp32 = CLIPAGIQA(**TINY)
    half = CLIPAGIQA(precision=precision, **TINY)
    half.load_state_dict(fp32.state_dict())
    images = torch.rand(4, 3, 224, 224)
    with torch.no_grad():
        reference, scores = fp32(images), half(images)
    assert scores.dtype == torch.float32 and not torch.equal(scores, reference)  # CLIP did run in half
    assert (scores - reference).abs().max() < 0.02 * reference.abs().max() + 1e-3
    assert half.frozen_features_key() != fp32.frozen_features_key()
    with pytest.raises(ValueError, match='fp32, fp16, bf16'):
        CLIPAGIQA(precision='fp8', **TINY)


def test_meta_info_command_writes_the_split_or_names_the_wrong_source(tmp_path, capsys):
    import pandas as pd

    from pyiqa_uniqa.apps.cli import main
    data = tmp_path / 'data.csv'
    pd.DataFrame({'name': [f'img{i}.jpg' for i in range(10)], 'mos_quality': range(10)}).to_csv(data, index=False)
    out = tmp_path / 'meta.csv'
    assert main(['agiqa-meta-info', 'agiqa3k', '--source', str(data), '--out', str(out)]) == 0
    assert pd.read_csv(out)['split'].tolist().count('test') == 2
    for dataset, source, message in (('agiqa3k', tmp_path / 'missing.csv', 'no such file'),
                                     ('aigciqa2023', data, 'not a readable MATLAB file')):
        assert main(['agiqa-meta-info', dataset, '--source', str(source), '--out', str(tmp_path / 'new.csv')]) == 2
        error = capsys.readouterr().err
        assert f'--source {source}' in error and message in error and not (tmp_path / 'new.csv').exists()
