"""export-backbone: pre-training checkpoint -> OpenAI-layout file -> same features in create_clip and pyiqa."""
import pytest
import torch

from pyiqa_uniqa.backbones import create_clip, openai_dtype
from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.uniqa_pretrain.arch import UniQAPretrainCLIP
from pyiqa_uniqa.weights import CheckpointMismatchError

TINY = 'tiny-clip-quickgelu'


def trained_network(**options):
    """A tiny pre-training network whose weights are far from any initialisation."""
    torch.manual_seed(0)
    net = UniQAPretrainCLIP(TINY, 'random', zero_shot_prompts=['bad', 'good'], **options)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return net


def save_like_pyiqa(net, path):
    torch.save({'params': {k: v.cpu() for k, v in net.state_dict().items()}}, path)
    return path


def features(clip, images, tokens):
    with torch.no_grad():
        return clip.encode_image(images), clip.encode_text(tokens)


def inputs():
    torch.manual_seed(1)
    return torch.randn(2, 3, 224, 224), torch.randint(1, 49407, (2, 77))


def test_float32_export_round_trip_gives_identical_features(tmp_path):
    net = trained_network()
    checkpoint = save_like_pyiqa(net, tmp_path / 'net_latest.pth')
    out = tmp_path / 'my_uniqa.pt'
    main(['export-backbone', str(checkpoint), '--out', str(out), '--clip-model', TINY, '--dtype', 'float32'])
    exported = torch.load(out, weights_only=True)
    assert set(exported) == set(create_clip(TINY).state_dict())
    loaded = create_clip(TINY, weights=out)
    images, tokens = inputs()
    for got, want in zip(features(loaded, images, tokens), features(net.clip, images, tokens)):
        assert torch.equal(got, want)
    assert torch.equal(loaded.logit_scale, net.clip.logit_scale.detach())


def test_default_export_uses_the_official_dtypes_and_loads_in_the_uniqa_metric(tmp_path):
    import pyiqa
    net = trained_network()
    out = tmp_path / 'my_uniqa.pt'
    main(['export-backbone', str(save_like_pyiqa(net, tmp_path / 'ckpt.pth')), '--out', str(out),
          '--clip-model', TINY])
    exported = torch.load(out, weights_only=True)
    assert all(tensor.dtype == openai_dtype(key) for key, tensor in exported.items())
    assert exported['visual.conv1.weight'].dtype == torch.float16
    metric = pyiqa.create_metric('uniqa', backbone_weights=str(out), model_name=TINY, device='cpu')
    metric_clip = metric.net.clip
    for key, tensor in exported.items():
        assert torch.equal(metric_clip.state_dict()[key], tensor.float()), key
    images, tokens = inputs()
    for got, want in zip(features(metric_clip, images, tokens), features(net.clip, images, tokens)):
        torch.testing.assert_close(got, want, atol=2e-2, rtol=2e-2)  # fp16 storage, like UniQA_weight.pt
    assert metric(torch.rand(1, 3, 224, 224)).shape == (1, 1)


def test_vit_b16_export_has_the_official_302_keys_shapes_and_dtypes(tmp_path, vitb16_checkpoint):
    official = torch.load(vitb16_checkpoint, weights_only=True)
    checkpoint = tmp_path / 'net_latest.pth'
    torch.save({'params': {'clip.' + k: v for k, v in official.items()}}, checkpoint)
    out = tmp_path / 'my_uniqa.pt'
    main(['export-backbone', str(checkpoint), '--out', str(out)])  # default geometry: ViT-B-16-quickgelu
    exported = torch.load(out, weights_only=True)
    assert len(exported) == 302 and list(exported) == list(official)
    for key, tensor in official.items():
        assert exported[key].dtype == tensor.dtype and torch.equal(exported[key], tensor), key


def test_lora_checkpoint_is_merged_into_the_base_weights(tmp_path):
    net = trained_network(lora={'r': 4, 'alpha': 8})
    assert any('lora_' in k for k in net.state_dict())
    out = tmp_path / 'merged.pt'
    main(['export-backbone', str(save_like_pyiqa(net, tmp_path / 'lora.pth')), '--out', str(out),
          '--clip-model', TINY, '--dtype', 'float32'])
    loaded = create_clip(TINY, weights=out)
    images, tokens = inputs()
    for got, want in zip(features(loaded, images, tokens), features(net.clip, images, tokens)):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match='not supported'):
        UniQAPretrainCLIP(TINY, 'random', zero_shot_prompts=['bad'], lora={'target_modules': ['attn', 'c_fc']})


def test_wrong_checkpoints_are_refused_with_what_is_wrong(tmp_path, capsys):
    torch.save({'params': {'adapter.fc.0.weight': torch.zeros(2, 2)}}, tmp_path / 'adapter.pth')
    with pytest.raises(ValueError, match='no "clip." tensors'):
        main(['--debug', 'export-backbone', str(tmp_path / 'adapter.pth'), '--out', str(tmp_path / 'x.pt')])
    assert main(['export-backbone', str(tmp_path / 'adapter.pth'), '--out', str(tmp_path / 'x.pt')]) == 2
    assert 'adapter.pth holds no "clip." tensors' in capsys.readouterr().err
    net = trained_network()
    tiny_as_vitb16 = ['export-backbone', str(save_like_pyiqa(net, tmp_path / 'tiny.pth')), '--out',
                      str(tmp_path / 'x.pt'), '--clip-model', 'ViT-B-16-quickgelu']  # tiny weights, ViT-B/16 asked
    with pytest.raises(CheckpointMismatchError, match='wrong shapes'):
        main(['--debug', *tiny_as_vitb16])
    assert main(tiny_as_vitb16) == 2  # a user mistake: one message, no traceback
    assert 'export-backbone: error: ' in capsys.readouterr().err
    assert not (tmp_path / 'x.pt').exists()
