"""Random checkpoints in the released DepictQA-Wild layout, for offline tests of the import.

The released ``ckpt.pt`` is a pickled OrderedDict of fp16 tensors: ``vision_proj.{weight,bias}``
and, per LM layer, ``llm.base_model.model.model.layers.{i}.self_attn.{q,k,v,o}_proj.lora_{A,B}
.default.weight`` (A: [r, in], B: [out, r]). This writes the same structure with random values
(B non-zero, unlike a fresh LoRA, so that the import visibly changes the logits).
"""
from collections import OrderedDict

import torch

LORA_KEY = 'llm.base_model.model.model.layers.{layer}.self_attn.{module}.lora_{half}{adapter}.weight'


def official_delta(num_layers, lm_hidden, vision_width, kv_dim=None, r=16, seed=0, adapter_name=True):
    generator = torch.Generator().manual_seed(seed)
    kv_dim = kv_dim or lm_hidden
    out_dims = {'q_proj': lm_hidden, 'k_proj': kv_dim, 'v_proj': kv_dim, 'o_proj': lm_hidden}
    in_dims = {'q_proj': lm_hidden, 'k_proj': lm_hidden, 'v_proj': lm_hidden, 'o_proj': lm_hidden}
    state = OrderedDict()
    state['vision_proj.weight'] = torch.randn(lm_hidden, vision_width, generator=generator) * 0.05
    state['vision_proj.bias'] = torch.randn(lm_hidden, generator=generator) * 0.05
    adapter = '.default' if adapter_name else ''
    for layer in range(num_layers):
        for module, out_dim in out_dims.items():
            state[LORA_KEY.format(layer=layer, module=module, half='A', adapter=adapter)] = (
                torch.randn(r, in_dims[module], generator=generator) * 0.1)
            state[LORA_KEY.format(layer=layer, module=module, half='B', adapter=adapter)] = (
                torch.randn(out_dim, r, generator=generator) * 0.1)
    return OrderedDict((k, v.half()) for k, v in state.items())


def write_official_delta(path, num_layers, lm_hidden, vision_width, **kwargs):
    """Save ``official_delta(...)`` with ``torch.save`` (a pickled OrderedDict, as released)."""
    torch.save(official_delta(num_layers, lm_hidden, vision_width, **kwargs), path)
    return path
