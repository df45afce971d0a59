"""Importing a released-layout delta, and OpenAI-layout CLIP weights, into the transformers model."""
import pytest
import torch

from pyiqa_uniqa.backbones.clip_input import CLIP_MEAN, CLIP_STD
from pyiqa_uniqa.depictqa import templates
from pyiqa_uniqa.depictqa.arch import DepictQA
from pyiqa_uniqa.depictqa.synthetic import official_delta, write_official_delta
from pyiqa_uniqa.weights import CheckpointMismatchError


@pytest.fixture(scope='module')
def delta_path(tmp_path_factory):
    return write_official_delta(tmp_path_factory.mktemp('delta') / 'ckpt.pt', num_layers=2, lm_hidden=64,
                                vision_width=64, r=16, seed=7)


def test_delta_import_equals_a_direct_computation(delta_path, tiny_net):
    from transformers import LlamaForCausalLM
    net = DepictQA('tiny', pretrained_model_path=delta_path)
    delta = {k: v.float() for k, v in torch.load(delta_path, weights_only=True).items()}

    # direct: a plain LLaMA with the same base weights, LoRA merged by hand (scale alpha / r = 1)
    base_state = {k.replace('.base_layer', ''): v for k, v in tiny_net.llm.get_base_model().state_dict().items()
                  if 'lora_' not in k}
    direct_lm = LlamaForCausalLM(tiny_net.llm.get_base_model().config).eval()
    direct_lm.load_state_dict(base_state)
    with torch.no_grad():
        for layer in range(2):
            attention = direct_lm.model.layers[layer].self_attn
            for name in ('q_proj', 'k_proj', 'v_proj', 'o_proj'):
                prefix = f'llm.base_model.model.model.layers.{layer}.self_attn.{name}'
                update = delta[f'{prefix}.lora_B.default.weight'] @ delta[f'{prefix}.lora_A.default.weight']
                getattr(attention, name).weight += (16 / 16) * update

    image = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(1))
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    with torch.no_grad():
        # HF's standard CLIP forward at the native 64 px (no interpolation needed), CLS dropped
        patches = tiny_net.vision_encoder(pixel_values=((image - mean) / std)[None]).last_hidden_state[0, 1:]
        visual = patches @ delta['vision_proj.weight'].T + delta['vision_proj.bias']
        tok = net.tokenizer
        system = templates.SYSTEM_BASE + templates.SYSTEM_QUALITY + '\n\n'
        before = [tok.bos_token_id] + tok(system + ' </s> Image: <Img>', add_special_tokens=False).input_ids
        after = tok('</Img>\n\n </s> USER: Which distortion?\n   ASSISTANT: ', add_special_tokens=False).input_ids
        embed = direct_lm.get_input_embeddings()
        sequence = torch.cat([embed(torch.tensor(before)), visual, embed(torch.tensor(after))])
        direct_logits = direct_lm(inputs_embeds=sequence[None]).logits[0]

        request = {'task': 'quality_single_A_noref', 'turns': [('Which distortion?', None)], 'images': {'A': image}}
        ours = net.llm(inputs_embeds=net._embed([request])[0].embeds[None]).logits[0]
        untrained = tiny_net.llm(inputs_embeds=tiny_net._embed([request])[0].embeds[None]).logits[0]
    assert ours.shape == direct_logits.shape
    # equal up to fp32 rounding: the LoRA path (x A^T B^T) vs the merged weight (W + B A)
    torch.testing.assert_close(ours, direct_logits, rtol=1e-5, atol=1e-4)
    assert not torch.allclose(ours, untrained, atol=1e-3)  # the delta really changed the model


def test_keys_without_adapter_name_and_a_wrong_geometry(tmp_path):
    def load(state):
        torch.save(state, tmp_path / 'delta.pt')
        return DepictQA('tiny', pretrained_model_path=tmp_path / 'delta.pt')

    old_naming = official_delta(num_layers=2, lm_hidden=64, vision_width=64, adapter_name=False)
    assert all('.default.' not in k for k in old_naming)
    net = load(old_naming)
    assert torch.equal(net.state_dict()['vision_proj.weight'], old_naming['vision_proj.weight'].float())
    with pytest.raises(CheckpointMismatchError, match='wrong shapes') as info:
        load(official_delta(num_layers=2, lm_hidden=64, vision_width=64, r=8))
    assert 'lora_A.default.weight' in str(info.value) and 'LoRA rank' in str(info.value)
    with pytest.raises(CheckpointMismatchError, match='missing keys'):
        load(official_delta(num_layers=1, lm_hidden=64, vision_width=64))
    extra = official_delta(num_layers=2, lm_hidden=64, vision_width=64)
    extra['llm.base_model.model.model.layers.9.self_attn.q_proj.lora_A.default.weight'] = torch.zeros(16, 64)
    with pytest.raises(CheckpointMismatchError, match='unexpected keys'):
        load(extra)


def test_hostile_pickle_is_refused_not_run(tmp_path):
    import pickle

    from pyiqa_uniqa.weights import UnsafeWeightsError

    class Boom:
        def __reduce__(self):
            return (print, ('pwned',))

    path = tmp_path / 'ckpt.pt'
    torch.save({'vision_proj.weight': Boom()}, path, pickle_module=pickle)
    with pytest.raises(UnsafeWeightsError):
        DepictQA('tiny', pretrained_model_path=path)


def test_openai_layout_vision_weights_match_open_clip(tiny_clip_checkpoint):
    from pyiqa_uniqa.backbones import create_clip
    from pyiqa_uniqa.depictqa.official_checkpoint import load_openai_vision
    from pyiqa_uniqa.depictqa.vision import patch_tokens
    hf = load_openai_vision(tiny_clip_checkpoint).eval()
    clip = create_clip('tiny-clip-quickgelu', weights=str(tiny_clip_checkpoint))
    captured = {}
    clip.visual.transformer.register_forward_hook(lambda module, args, output: captured.setdefault('out', output))
    pixels = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        clip.encode_image(pixels)
        ours = patch_tokens(hf, pixels)
    reference = captured['out'][:, 1:]  # last block's patch tokens, before ln_post
    assert ours.shape == reference.shape == (2, 49, 64)
    assert torch.allclose(ours, reference, atol=1e-4)


def test_building_a_model_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = DepictQA('tiny')
    assert torch.equal(torch.rand(3), expected)
    second = DepictQA('tiny')  # and the random parts are reproducible from the config alone
    assert all(torch.equal(v, second.state_dict()[k]) for k, v in first.state_dict().items())
    assert all(torch.equal(v, second.vision_encoder.state_dict()[k])
               for k, v in first.vision_encoder.state_dict().items())


def test_backbone_weights_vocabulary(tiny_clip_checkpoint, tmp_path):
    from pyiqa_uniqa.weights import WeightsNotFoundError
    from_file = DepictQA('tiny', backbone_weights=str(tiny_clip_checkpoint))  # an OpenAI-layout state dict
    assert from_file.vision_encoder.config.patch_size == 32
    from_file.vision_encoder.save_pretrained(tmp_path / 'hf_clip')
    from_folder = DepictQA('tiny', backbone_weights=str(tmp_path / 'hf_clip'))  # a Hugging Face folder
    assert all(torch.equal(v, from_folder.vision_encoder.state_dict()[k])
               for k, v in from_file.vision_encoder.state_dict().items())
    with pytest.raises(WeightsNotFoundError, match='backbone_weights') as info:
        DepictQA('tiny', backbone_weights=str(tmp_path / 'missing.safetensors'))
    assert 'does not exist' in str(info.value)
    with pytest.raises(WeightsNotFoundError, match="backbone_weights='no-such/clip'"):
        DepictQA('tiny', backbone_weights='no-such/clip')
