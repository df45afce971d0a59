"""UniQA through pyiqa: names, create_metric, as_loss gradients, prompts encoded once, frozen CLIP."""
import pytest
import torch

UNIQA_NAMES = ['uniqa', 'uniqa-level', 'uniqa-koniq', 'uniqa-livec', 'uniqa-spaq', 'uniqa-kadid', 'uniqa-ava',
               'uniqa-aadb', 'uniqa-agiqa3k']


@pytest.fixture(scope='module')
def tiny(tiny_clip_checkpoint):
    return {'device': 'cpu', 'model_name': 'tiny-clip-quickgelu', 'backbone_weights': str(tiny_clip_checkpoint)}


def test_all_names_are_listed_as_nr_metrics():
    import pyiqa

    nr = pyiqa.list_models(metric_mode='NR')
    assert all(name in nr for name in UNIQA_NAMES)


@pytest.mark.parametrize('name, groups', [('uniqa', 4), ('uniqa-level', 1)])
def test_zero_shot_metrics(tiny, name, groups):
    import pyiqa

    metric = pyiqa.create_metric(name, **tiny)
    assert metric.net.groups == groups and metric.net.adapter is None
    assert not metric.lower_better
    score = metric(torch.rand(2, 3, 224, 224))
    assert score.shape == (2, 1) and torch.isfinite(score).all()


def test_adapter_metric_uses_aigc_prompts_and_the_given_adapter(tiny, tmp_path):
    import pyiqa

    from pyiqa_uniqa.uniqa.arch import UniQA

    trained = UniQA(**{k: v for k, v in tiny.items() if k != 'device'}, prompt_set='aigc')
    torch.nn.init.normal_(trained.adapter.fc[0].weight)
    torch.save({'params': trained.state_dict()}, tmp_path / 'net_best.pth')
    metric = pyiqa.create_metric('uniqa-agiqa3k', pretrained_model_path=str(tmp_path / 'net_best.pth'), **tiny)
    assert metric.net.prompts[5:] == ('bad content', 'poor content', 'fair content', 'good content', 'perfect content')
    assert torch.equal(metric.net.adapter.fc[0].weight, trained.adapter.fc[0].weight)


def test_as_loss_backpropagates_to_the_image_not_the_backbone(tiny):
    import pyiqa

    metric = pyiqa.create_metric('uniqa', as_loss=True, **tiny)
    image = torch.rand(2, 3, 256, 256, requires_grad=True)
    metric(image).sum().backward()
    assert image.grad is not None and torch.isfinite(image.grad).all() and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in metric.net.clip.parameters())


def test_adapter_training_builds_no_graph_through_the_frozen_encoder(tiny):
    from pyiqa_uniqa.uniqa.arch import UniQA

    net = UniQA(**{k: v for k, v in tiny.items() if k != 'device'}).train()
    seen = []
    net.clip.visual.transformer.register_forward_hook(lambda m, i, out: seen.append(out.requires_grad))
    loss = ((net(torch.rand(4, 3, 224, 224)) - 0.5) ** 2).mean()
    loss.backward()
    assert seen == [False]
    assert net.adapter.fc[0].weight.grad is not None and net.score_level.grad is not None
    assert all(p.grad is None for p in net.clip.parameters())


def test_prompts_are_encoded_once(tiny):
    from pyiqa_uniqa.uniqa.arch import UniQA

    net = UniQA(**{k: v for k, v in tiny.items() if k != 'device'}, prompt_set='ensemble').eval()
    calls = []
    encode_text = net.clip.encode_text
    net.clip.encode_text = lambda text, **kw: calls.append(text.shape) or encode_text(text, **kw)
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(2, 3, 240, 240))
    net.train()
    net(torch.rand(2, 3, 224, 224)).sum().backward()
    assert calls == [(20, 77)]
