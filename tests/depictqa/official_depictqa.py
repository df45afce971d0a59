"""The official DepictQA side of the fidelity tests: its files and an independent re-computation of its forward.

Written from the behaviour of the official code (XPixelGroup/DepictQA, snapshot 22f5795, run with
transformers 4.35 and peft 0.3): none of our package's code runs here. Two halves:

- **Files as the official code writes them.** ``OfficialTrainable`` is a module tree with the
  official attribute names (``vision_proj``, ``abstractor.query_embeds`` [Q, 1, D],
  ``abstractor.abstractor`` = ``nn.TransformerDecoder``, ``llm`` = a peft LoRA model);
  ``save_official_delta`` keeps the parameters that require grad and ``torch.save``s them as an
  OrderedDict after the fp16 cast of the DeepSpeed engine, as ``agent.save_model`` does. The base LM
  is a Hugging Face folder (as Vicuna is) and the vision tower an OpenAI-layout CLIP state dict.
- **The forward in plain tensor ops** on the raw tensors: ``official_pixels`` (``CustomTransform``:
  PIL uint8 bicubic, the training crop, torchvision's centre crop/pad, CLIP mean/std),
  ``patch_features`` (``forward_patch_features``), ``abstract`` (sequence-first post-norm decoder),
  ``OfficialLM`` (the vendored LLaMA with LoRA), the prompt text of ``fuse_vision_iqa`` /
  ``tokenize_query`` / ``_tokenize_conv``, the transformers-4.35 greedy/sampling loop as
  ``DepictQA.generate`` calls it (EOS-padded queries moved to the left and left unmasked when
  batched), ``confidence.py``, and the training loss of ``DepictQA.forward``.
"""
import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.transforms.functional import center_crop

MEAN = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(3, 1, 1)
STD = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(3, 1, 1)

# --- prompt text (src/model/conversations.py, vicuna_v1; src/model/depictqa.py) ------------------
PROMPT_BASE = ("A chat between a curious human and an artificial intelligence assistant. The assistant gives "
               "helpful, detailed, and polite answers to the human's questions.")
PROMPT_QUALITY = " As an AI assistant, you are performing an image quality assessment task."
PROMPT_REF = " A high-quality Reference Image is provided to assist the evaluation."
SEPS = ('   ', ' </s> ')  # f" {sep} ", f" {sep2} " with sep " " and sep2 "</s>"
SOV = {'img': '<Img>', 'ref': '<Img-Reference>', 'A': '<Img-A>', 'B': '<Img-B>'}
EOV = {'img': '</Img>', 'ref': '</Img-Reference>', 'A': '</Img-A>', 'B': '</Img-B>'}
SINGLE_TAIL = ' Answer the question using a single word or phrase.'
SINGLE_MARKERS = ['single word', 'one word', 'a word', 'single phrase', 'one phrase', 'a phrase']


# --- files --------------------------------------------------------------------------------------
class OfficialAbstractor(nn.Module):
    """``AbstractorModel`` of src/model/clip/abstractor.py (names and shapes)."""

    def __init__(self, hidden_dim, nhead=8, dim_feedforward=2048, num_layers=4, num_query=64, dropout=0.1):
        super().__init__()
        layer = nn.TransformerDecoderLayer(d_model=hidden_dim, nhead=nhead, dim_feedforward=dim_feedforward,
                                           dropout=dropout)
        self.abstractor = nn.TransformerDecoder(layer, num_layers=num_layers)
        self.query_embeds = nn.Parameter(torch.randn(num_query, 1, hidden_dim))


class OfficialTrainable(nn.Module):
    """The parameters of the official ``DepictQA`` module under its attribute names.

    ``vision_encoder`` is frozen (as the official CLIP), ``llm`` is ``get_peft_model(LLaMA)`` with
    the official LoRA settings, ``abstractor`` is ``nn.Identity`` unless one is asked for.
    """

    def __init__(self, base_lm, vision_width, abstractor=None, lora_r=16, lora_alpha=16, seed=0):
        super().__init__()
        from peft import LoraConfig, TaskType, get_peft_model
        torch.manual_seed(seed)
        self.vision_encoder = nn.Linear(vision_width, vision_width).requires_grad_(False)
        self.llm = get_peft_model(base_lm, LoraConfig(
            task_type=TaskType.CAUSAL_LM, inference_mode=False, r=lora_r, lora_alpha=lora_alpha, lora_dropout=0.1,
            target_modules=['q_proj', 'k_proj', 'v_proj', 'o_proj']))
        self.abstractor = OfficialAbstractor(vision_width, **abstractor) if abstractor else nn.Identity()
        self.vision_proj = nn.Linear(vision_width, base_lm.config.hidden_size)
        with torch.no_grad():  # "trained": LoRA B is zero when fresh, which would hide the LoRA path
            for name, param in self.named_parameters():
                if param.requires_grad and ('lora_' in name or 'query_embeds' in name):
                    param.copy_(torch.randn_like(param) * 0.1)


def save_official_delta(model, path):
    """``agent.save_model``: the requires-grad parameters of the fp16 engine, torch.save'd."""
    trainable = [k for k, v in model.named_parameters() if v.requires_grad]
    state = model.half().state_dict()
    torch.save(OrderedDict((k, state[k]) for k in trainable), path)
    model.float()
    return path


# --- pixels (CustomTransform of src/model/clip/clip.py) --------------------------------------------
def official_pixels(image, resize, max_size, min_size=70, patch=14, crop_draws=None):
    """A PIL RGB image -> normalised float64 [3, H, W]. ``crop_draws``: the two U(0.7, 1) draws of a training crop."""
    h, w = image.height, image.width
    if resize <= min(h, w) or max_size <= max(h, w):
        ratio = min(resize / min(h, w), max_size / max(h, w))
        image = image.resize((round(w * ratio), round(h * ratio)), resample=Image.BICUBIC)
    h, w = image.height, image.width
    if crop_draws is not None and min_size < min(h, w):
        lowest = min_size / min(h, w)
        ratio_h, ratio_w = max(crop_draws[0], lowest), max(crop_draws[1], lowest)
        image = center_crop(image, (round(h * ratio_h), round(w * ratio_w)))
    h, w = max(min_size, image.height), max(min_size, image.width)
    image = center_crop(image, [int(math.ceil(side / patch) * patch) for side in (h, w)])
    pixels = torch.tensor(np.array(image) / 255.0).permute(2, 0, 1)
    return (pixels - MEAN) / STD


# --- vision tower, abstractor, projector -----------------------------------------------------------
def _layer_norm(x, sd, prefix, eps=1e-5):
    return F.layer_norm(x, x.shape[-1:], sd[prefix + '.weight'], sd[prefix + '.bias'], eps=eps)


def _attention(query, memory, sd, prefix, heads):
    """nn.MultiheadAttention, sequence-first [L, B, D], packed in_proj."""
    width = query.shape[-1]
    w_q, w_k, w_v = sd[prefix + '.in_proj_weight'].chunk(3)
    b_q, b_k, b_v = sd[prefix + '.in_proj_bias'].chunk(3)

    def split(x):
        return x.reshape(x.shape[0], x.shape[1], heads, width // heads).permute(1, 2, 0, 3)
    q, k, v = split(query @ w_q.t() + b_q), split(memory @ w_k.t() + b_k), split(memory @ w_v.t() + b_v)
    weights = (q @ k.transpose(-1, -2) / math.sqrt(width // heads)).softmax(dim=-1)
    out = (weights @ v).permute(2, 0, 1, 3).reshape(query.shape)
    return out @ sd[prefix + '.out_proj.weight'].t() + sd[prefix + '.out_proj.bias']


def patch_features(clip_sd, pixels):
    """``VisionTransformer.forward_patch_features`` on an OpenAI-layout state dict: [B, N, width]."""
    sd = {k[len('visual.'):]: v.float() for k, v in clip_sd.items() if k.startswith('visual.')}
    patch = sd['conv1.weight'].shape[-1]
    width = sd['conv1.weight'].shape[0]
    x = F.conv2d(pixels.float(), sd['conv1.weight'], stride=patch)
    grid_h, grid_w = x.shape[-2:]
    x = x.reshape(x.shape[0], width, -1).permute(0, 2, 1)
    x = torch.cat([sd['class_embedding'] + torch.zeros(x.shape[0], 1, width), x], dim=1)
    table = sd['positional_embedding']
    side = int(math.sqrt(table.shape[0] - 1))
    if (grid_h, grid_w) != (side, side):  # the official resizes unless the input is the native size
        grid = table[1:].permute(1, 0).reshape(1, width, side, side)
        grid = F.interpolate(grid, size=(grid_h, grid_w), mode='bicubic', align_corners=True).reshape(width, -1)
        table = torch.cat([table[:1], grid.permute(1, 0)])
    x = _layer_norm(x + table, sd, 'ln_pre').permute(1, 0, 2)
    heads = width // 64 or 1
    blocks = len({k.split('.')[2] for k in sd if k.startswith('transformer.resblocks.')})
    for i in range(blocks):
        p = f'transformer.resblocks.{i}'
        h = _layer_norm(x, sd, p + '.ln_1')
        x = x + _attention(h, h, sd, p + '.attn', heads)
        h = _layer_norm(x, sd, p + '.ln_2') @ sd[p + '.mlp.c_fc.weight'].t() + sd[p + '.mlp.c_fc.bias']
        x = x + (h * torch.sigmoid(1.702 * h)) @ sd[p + '.mlp.c_proj.weight'].t() + sd[p + '.mlp.c_proj.bias']
    return x.permute(1, 0, 2)[:, 1:]


def abstract(delta, tokens, heads):
    """``AbstractorModel.forward`` (no positional embedding, eval): [B, N, D] -> [B, Q, D]."""
    sd = {k[len('abstractor.'):]: v.float() for k, v in delta.items() if k.startswith('abstractor.')}
    memory = tokens.permute(1, 0, 2)
    x = sd['query_embeds'].repeat(1, tokens.shape[0], 1)
    layers = len({k.split('.')[2] for k in sd if k.startswith('abstractor.layers.')})
    for i in range(layers):
        p = f'abstractor.layers.{i}'
        x = _layer_norm(x + _attention(x, x, sd, p + '.self_attn', heads), sd, p + '.norm1')
        x = _layer_norm(x + _attention(x, memory, sd, p + '.multihead_attn', heads), sd, p + '.norm2')
        hidden = torch.relu(x @ sd[p + '.linear1.weight'].t() + sd[p + '.linear1.bias'])
        x = _layer_norm(x + hidden @ sd[p + '.linear2.weight'].t() + sd[p + '.linear2.bias'], sd, p + '.norm3')
    return x.permute(1, 0, 2)


def project(delta, tokens):
    return tokens @ delta['vision_proj.weight'].float().t() + delta['vision_proj.bias'].float()


# --- the LM -----------------------------------------------------------------------------------------
class OfficialLM:
    """The vendored LLaMA with peft LoRA (scaling alpha / r, dropout off), from raw tensors."""

    def __init__(self, base_sd, delta, heads, lora_scale=1.0, eps=1e-6, theta=10000.0):
        self.sd = {k: v.float() for k, v in base_sd.items()}
        self.delta = {k: v.float() for k, v in delta.items()}
        self.heads, self.scale, self.eps, self.theta = heads, lora_scale, eps, theta
        self.layers = len({k.split('.')[2] for k in self.sd if k.startswith('model.layers.')})

    def embed(self, ids):
        return self.sd['model.embed_tokens.weight'][torch.as_tensor(ids, dtype=torch.long)]

    def _rms(self, x, name):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.sd[name]

    def _linear(self, x, layer, name):
        out = x @ self.sd[f'model.layers.{layer}.self_attn.{name}.weight'].t()
        prefix = f'llm.base_model.model.model.layers.{layer}.self_attn.{name}'
        if prefix + '.lora_A.default.weight' in self.delta:
            lora_a, lora_b = self.delta[prefix + '.lora_A.default.weight'], self.delta[prefix + '.lora_B.default.weight']
            out = out + (x @ lora_a.t()) @ lora_b.t() * self.scale
        return out

    def _rotate(self, x, positions):
        dim = x.shape[-1]
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
        freqs = positions[:, :, None].float() * inv_freq
        angles = torch.cat([freqs, freqs], dim=-1)[:, None]
        halves = torch.cat([-x[..., dim // 2:], x[..., :dim // 2]], dim=-1)
        return x * angles.cos() + halves * angles.sin()

    def logits(self, embeds, mask=None, positions=None):
        """[B, L, D] -> [B, L, V]; ``mask`` [B, L] hides keys (1 = attend); positions default 0..L-1."""
        batch, length, width = embeds.shape
        head_dim = width // self.heads
        if positions is None:
            positions = torch.arange(length).expand(batch, -1)
        bias = torch.full((length, length), torch.finfo(torch.float32).min).triu(1)[None, None]
        if mask is not None:
            bias = bias + torch.where(mask[:, None, None, :].bool(), 0.0, torch.finfo(torch.float32).min)
            bias = bias.clamp_min(torch.finfo(torch.float32).min)
        x = embeds.float()
        for i in range(self.layers):
            h = self._rms(x, f'model.layers.{i}.input_layernorm.weight')
            q, k, v = (self._linear(h, i, name).reshape(batch, length, self.heads, head_dim).transpose(1, 2)
                       for name in ('q_proj', 'k_proj', 'v_proj'))
            q, k = self._rotate(q, positions), self._rotate(k, positions)
            weights = (q @ k.transpose(-1, -2) / math.sqrt(head_dim) + bias).softmax(dim=-1)
            x = x + self._linear((weights @ v).transpose(1, 2).reshape(batch, length, width), i, 'o_proj')
            h = self._rms(x, f'model.layers.{i}.post_attention_layernorm.weight')
            mlp = f'model.layers.{i}.mlp.'
            gate = F.silu(h @ self.sd[mlp + 'gate_proj.weight'].t()) * (h @ self.sd[mlp + 'up_proj.weight'].t())
            x = x + gate @ self.sd[mlp + 'down_proj.weight'].t()
        return self._rms(x, 'model.norm.weight') @ self.sd['lm_head.weight'].t()


# --- the sequence (fuse_vision_iqa, tokenize_query, _tokenize_conv) --------------------------------------
def system_text(task):
    text = PROMPT_BASE + PROMPT_QUALITY + ('' if task.endswith('_noref') else PROMPT_REF)
    return text + '\n\n'


def image_texts(task):
    """The texts before, between and after the images (unique tags), and the image order."""
    system = system_text(task)
    if task == 'quality_compare_noref':
        return [system + SEPS[1] + 'Image A: ' + SOV['A'], EOV['A'] + '\n\n' + SEPS[1] + 'Image B: ' + SOV['B']], ['A', 'B']
    if task == 'quality_compare':
        return [system + SEPS[1] + 'Reference Image: ' + SOV['ref'],
                EOV['ref'] + '\n\n' + SEPS[1] + 'Image A: ' + SOV['A'],
                EOV['A'] + '\n\n' + SEPS[1] + 'Image B: ' + SOV['B']], ['ref', 'A', 'B']
    slot = 'A' if 'single_A' in task else 'B'
    if task.endswith('_noref'):
        return [system + SEPS[1] + 'Image: ' + SOV['img']], [slot]
    return [system + SEPS[1] + 'Reference Image: ' + SOV['ref'],
            EOV['ref'] + '\n\n' + SEPS[1] + 'Image: ' + SOV['img']], ['ref', slot]


def query_text(task, query):
    closing = EOV['B'] if 'quality_compare' in task else EOV['img']
    return f'{closing}\n\n{SEPS[1]}USER: {query}\n{SEPS[0]}ASSISTANT: '


def conversation_ids(tokenizer, task, conversation):
    """``_tokenize_conv``: (input ids, target ids) of the turns after the images."""
    input_ids, targets = [], []
    for index, turn in enumerate(conversation):
        if index == 0:
            ids = tokenizer(query_text(task, turn['value']), add_special_tokens=False).input_ids
            input_ids, targets = input_ids + ids, targets + [-100] * len(ids)
        elif turn['from'] == 'human':
            ids = tokenizer(f"USER: {turn['value']}\n{SEPS[0]}ASSISTANT: ", add_special_tokens=False).input_ids
            input_ids, targets = input_ids + ids, targets + [-100] * len(ids)
        else:
            ids = tokenizer(turn['value'] + '\n' + SEPS[1].rstrip(), add_special_tokens=False).input_ids
            input_ids, targets = input_ids + ids, targets + ids
    return input_ids, targets


def prefix_embeds(lm, tokenizer, task, image_tokens):
    """[BOS] + text/image pieces up to the last image: [N, D]."""
    texts, order = image_texts(task)
    chunks = [lm.embed([tokenizer.bos_token_id])]
    for text, role in zip(texts, order):
        chunks += [lm.embed(tokenizer(text, add_special_tokens=False).input_ids), image_tokens[role]]
    return torch.cat(chunks)


def generation_embeds(lm, tokenizer, task, queries, image_tokens):
    """``get_generate_embs``: queries right-padded with EOS, the padding moved to the left, mask all ones."""
    ids = [tokenizer(query_text(task, q), add_special_tokens=False).input_ids for q in queries]
    longest = max(len(i) for i in ids)
    rows = []
    for row, query_ids in enumerate(ids):
        pads = longest - len(query_ids)
        content = torch.cat([prefix_embeds(lm, tokenizer, task, image_tokens[row]), lm.embed(query_ids)])
        rows.append(torch.cat([lm.embed([tokenizer.eos_token_id] * pads), content]))
    embeds = torch.stack(rows)
    return embeds, torch.ones(embeds.shape[:2], dtype=torch.long)


# --- generation (transformers 4.35 greedy_search / sample, as DepictQA.generate calls it) --------------
def process_scores(logits, temperature, top_p, top_k=50):
    """Temperature, top-k (transformers' default 50), top-p, in that order, as 4.35's warpers."""
    scores = logits / temperature
    kth = torch.topk(scores, min(top_k, scores.shape[-1]), dim=-1).values[..., -1:]
    scores = scores.masked_fill(scores < kth, -float('inf'))
    ordered, order = torch.sort(scores, descending=False)
    removed = ordered.softmax(dim=-1).cumsum(dim=-1) <= (1 - top_p)
    removed[..., -1:] = False
    return scores.masked_fill(removed.scatter(1, order, removed), -float('inf'))


def official_generate(lm, embeds, mask, eos_id, max_new_tokens=400, temperature=0.0, top_p=0.9,
                      generator=None, pad_id=0, bos_id=1):
    """-> (sequences [B, 1 + T] starting with the BOS placeholder, probs [B, T]) as ``DepictQA.generate``."""
    batch = embeds.shape[0]
    sequences = torch.full((batch, 1), bos_id, dtype=torch.long)
    unfinished = torch.ones(batch, dtype=torch.long)
    probs = []
    for _ in range(max_new_tokens):
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
        logits = lm.logits(embeds, mask, positions)[:, -1]
        if temperature > 1e-4:
            scores = process_scores(logits, temperature, top_p)
            token = torch.multinomial(scores.softmax(-1), 1, generator=generator).squeeze(1)
        else:
            scores = logits
            token = scores.argmax(-1)
        token = token * unfinished + pad_id * (1 - unfinished)
        sequences = torch.cat([sequences, token[:, None]], dim=1)
        probs.append(scores.softmax(-1).gather(1, token[:, None]).squeeze(1))
        unfinished = unfinished * (token != eos_id).long()
        if unfinished.max() == 0:
            break
        embeds = torch.cat([embeds, lm.embed(token)[:, None]], dim=1)
        mask = torch.cat([mask, mask.new_ones(batch, 1)], dim=1)
    return sequences, torch.stack(probs, dim=1)


# --- confidence (src/model/utils/confidence.py) ------------------------------------------------------
def _answer_ids(sequence, probs, pad_id=0):
    ids = [int(t) for t in sequence][1:]  # the BOS placeholder
    probs = [float(p) for p in probs]
    if pad_id in ids:
        ids, probs = ids[:ids.index(pad_id)], probs[:ids.index(pad_id)]
    return ids, probs


def single_brief_confidence(sequence, probs, end_ids, and_id):
    """Mean p over the answer up to its first ``end_ids`` ("\\n ▁</s>"), without the first "and"."""
    ids, probs = _answer_ids(sequence, probs)
    cut = next((i for i in range(len(ids)) if ids[i:i + len(end_ids)] == end_ids), len(ids))
    ids, probs = ids[:cut], probs[:cut]
    if and_id in ids:
        del probs[ids.index(and_id)]
        del ids[ids.index(and_id)]
    return sum(probs) / len(probs)


def compare_brief_confidence(sequence, probs, verdict_ids):
    """p of the letter of the first "Image A" / "Image B" (the official loop never ends without one)."""
    ids, probs = _answer_ids(sequence, probs)
    for index in range(len(ids)):
        if ids[index:index + 2] in verdict_ids:
            return probs[index + 1]
    raise RuntimeError('the official search would never end')


def detail_confidence(sequence, probs, text, tokenizer, encode, top=30):
    """sum of normalised top-30 importances (1 - cos(S(text), S(text without token i))) times p."""
    ids, probs = _answer_ids(sequence, probs)
    original = encode([text])
    ablated = encode([tokenizer.decode(ids[:i] + ids[i + 1:], skip_special_tokens=True) for i in range(len(ids))])
    weights = (1 - F.cosine_similarity(original, ablated, dim=-1)).tolist()
    order = sorted(range(len(weights)), key=lambda i: weights[i], reverse=True)[:top]
    chosen = np.array(sorted(weights, reverse=True)[:top])
    return float(((chosen / chosen.sum()) * np.array([probs[i] for i in order])).sum())


def is_brief(text):
    return len(text.split(' ')) < 22


def asks_single_word(query):
    return any(marker in query for marker in SINGLE_MARKERS)


# --- training (DepictQA.forward with tokenize_conv) ------------------------------------------------------
def training_loss(lm, tokenizer, task, conversation, image_tokens, max_tokens=512):
    """Loss of one sample: conversation ids cut to ``max_tokens``, mask ``ids != pad`` (pad = EOS)."""
    ids, targets = conversation_ids(tokenizer, task, conversation)
    ids, targets = torch.tensor(ids[:max_tokens]), torch.tensor(targets[:max_tokens])
    prefix = prefix_embeds(lm, tokenizer, task, image_tokens)
    embeds = torch.cat([prefix, lm.embed(ids)])[None]
    mask = torch.cat([torch.ones(prefix.shape[0], dtype=torch.long), (ids != tokenizer.eos_token_id).long()])[None]
    labels = torch.cat([torch.full((prefix.shape[0],), -100), targets])
    logits = lm.logits(embeds, mask)[0]
    return F.cross_entropy(logits[:-1], labels[1:], ignore_index=-100)


# --- a complete set of official files, tiny ---------------------------------------------------------------
TINY_LM = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=4, max_position_embeddings=4096, initializer_range=0.3)
TINY_ABSTRACTOR = dict(nhead=4, dim_feedforward=96, num_layers=2, num_query=8)


def write_official_files(folder, abstractor=False, seed=0):
    """The files an official DepictQA run reads, at a tiny size, in ``folder``:

    ``llm/`` (a Hugging Face LLaMA folder with its tokenizer, as Vicuna-7B-v1.5), ``clip.pt`` (an
    OpenAI-layout CLIP state dict, as ViT-L-14.pt) and ``ckpt.pt`` (the trained delta, written by
    ``save_official_delta``). Returns a dict of the paths and the raw tensors.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    from pyiqa_uniqa.depictqa.tiny_tokenizer import build_tiny_tokenizer
    from pyiqa_uniqa.testing.official_checkpoints import write_official_clip_checkpoint
    from pyiqa_uniqa.weights import read_checkpoint
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer()
    torch.manual_seed(seed)
    lm = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                      eos_token_id=tokenizer.eos_token_id, **TINY_LM))
    lm.save_pretrained(folder / 'llm')
    tokenizer.save_pretrained(folder / 'llm')
    base_sd = {k: v.clone() for k, v in lm.state_dict().items()}
    clip_path = write_official_clip_checkpoint(folder / 'clip.pt', 'tiny', seed=seed)
    clip_sd = read_checkpoint(clip_path)
    vision_width = clip_sd['visual.conv1.weight'].shape[0]
    trainable = OfficialTrainable(lm, vision_width, TINY_ABSTRACTOR if abstractor else None, seed=seed + 1)
    delta_path = save_official_delta(trainable, folder / 'ckpt.pt')
    return {'llm': folder / 'llm', 'clip': clip_path, 'delta': delta_path, 'tokenizer': tokenizer,
            'base_sd': base_sd, 'clip_sd': clip_sd, 'delta_sd': torch.load(delta_path, weights_only=True)}
