"""DepictQA: a vision-language model that describes and compares image quality (arXiv 2405.18842).

CLIP patch tokens at the image's own resolution -> linear projector (optionally an abstractor
first) -> a causal LM with LoRA, the images spliced between the official Reference / A / B tags.

For pyiqa, ``forward(img, ref=None)`` returns a (B, 1) score in [0, 1] (higher is better):

- ``score_method='levels'`` (default, NR and FR): the expected value over five quality words
  (Excellent 1, Good .75, Fair .5, Poor .25, Bad 0) from the next-token distribution after a
  single-word rating question, renormalised over those words. One forward pass, no decoding.
  DepictQA-Wild itself was not trained on level answers (``build-dq`` adds them); with the
  released weights this is the LM's zero-shot reading of the question.
- ``score_method='compare'`` (FR only): P(the image is better than its reference) from the
  A/B token of the instant-rating question, averaged over both orders (A/B position bias cancels).
  This is the continuous form of the official confidence-weighted voting.

Both are differentiable in the input image (gradients pass through the frozen CLIP only when the
input requires them), so ``as_loss=True`` works. ``describe`` and ``compare`` return text and the
official confidence; all decoding is bounded.
"""
import torch
from torch import nn

from pyiqa_uniqa.backbones import FrozenTowerModule
from pyiqa_uniqa.depictqa import templates
from pyiqa_uniqa.depictqa.confidence import (
    SentenceEmbedder,
    TokenRoles,
    brief_confidence,
    comparison_verdict,
    detail_confidence,
    is_brief,
)
from pyiqa_uniqa.depictqa.config import PRESETS, resolve_config, with_overrides
from pyiqa_uniqa.depictqa.generation import generate
from pyiqa_uniqa.depictqa.images import load_image, prepare_pixels
from pyiqa_uniqa.depictqa.sequence import IGNORE_INDEX, SequenceBuilder, TextPiece, embed_pieces, pad_batch
from pyiqa_uniqa.depictqa.vision import Abstractor, build_vision_encoder, patch_tokens

SCORE_METHODS = ('levels', 'compare')
VISION_WEIGHTS_FILE = 'vision.safetensors'
MODEL_WEIGHTS_FILE = 'model.safetensors'
TOKENIZER_FOLDER = 'tokenizer'


class DepictQA(FrozenTowerModule):
    """Args:
        model_config: preset ('wild', 'wild-abstractor', 'tiny'), a folder from ``save_pretrained``,
            a dict or a ``DepictQAConfig``.
        pretrained_model_path: a delta (released ``ckpt.pt`` or a checkpoint of ``pyiqa-uniqa
            train``). Default for the 'wild' presets: the official release, found in pyiqa's cache
            or $DEPICTQA_WEIGHTS or downloaded; ``False`` skips it.
        reference: FR mode (``depictqa-fr``): ``forward(img, ref)``.
        score_method: 'levels' or 'compare' (FR), see the module doc.
        vision / language_model / tokenizer / vision_openai_weights: override the config's parts.
        sentence_model: a folder of a sentence encoder (all-MiniLM-L6-v2) or a callable
            list[str] -> Tensor, for the confidence of detailed answers.
        dtype: 'auto' (fp16 for named models when CUDA is available, else fp32), 'fp16', 'bf16', 'fp32'.
        config_overrides: fields of ``DepictQAConfig`` to change, nested ones key by key, e.g.
            ``{'lora': {'r': 8}, 'generation': {'max_new_tokens_detail': 200}}``.
    """

    def __init__(self, model_config='wild', pretrained_model_path=None, reference=False, score_method='levels',
                 vision=None, language_model=None, tokenizer=None, vision_openai_weights=None,
                 sentence_model=None, dtype='auto', config_overrides=None):
        super().__init__()
        parts = dict(vision=vision, language_model=language_model, tokenizer=tokenizer,
                     vision_openai_weights=vision_openai_weights)
        overrides = {**(config_overrides or {}), **{k: v for k, v in parts.items() if v is not None}}
        config = with_overrides(resolve_config(model_config), overrides)
        if score_method not in SCORE_METHODS:
            raise ValueError(f'score_method must be one of {SCORE_METHODS}, got {score_method!r}')
        if score_method == 'compare' and not reference:
            raise ValueError("score_method='compare' scores an image against its reference: use depictqa-fr")
        self.config, self.reference, self.score_method = config, reference, score_method
        saved_folder = _saved_folder(model_config)
        from pyiqa_uniqa.depictqa.sources import check_sources, release_weights
        check_sources(config)
        delta = release_weights(model_config, pretrained_model_path)
        torch_dtype = _resolve_dtype(dtype, config)

        self.tokenizer = _load_tokenizer(config, saved_folder)
        encoder = build_vision_encoder(config.vision, config.vision_openai_weights, config.init_seed)
        if saved_folder is not None:
            encoder.load_state_dict(_read_safetensors(saved_folder / VISION_WEIGHTS_FILE))
        self.hold_frozen('vision_encoder', encoder.to(torch_dtype))
        self.llm = _build_language_model(config, self.tokenizer, torch_dtype)
        width = encoder.config.hidden_size
        torch.manual_seed(config.init_seed + 1)
        self.abstractor = Abstractor(width, config.abstractor) if config.abstractor else None
        self.vision_proj = nn.Linear(width, self.llm.get_input_embeddings().weight.shape[1])
        if saved_folder is not None:
            self.load_state_dict(_read_safetensors(saved_folder / MODEL_WEIGHTS_FILE))
        if delta is not None:
            from pyiqa_uniqa.depictqa.official_checkpoint import load_adapter_weights
            load_adapter_weights(self, delta)
        if self.abstractor is not None:
            self.abstractor.to(torch_dtype)
        self.vision_proj.to(torch_dtype)

        self.sequences = SequenceBuilder(self.tokenizer, config.unique_tag, config.max_text_tokens)
        self.roles = TokenRoles(self.tokenizer)
        self.sentence_embedder = (SentenceEmbedder.load(sentence_model) if isinstance(sentence_model, str)
                                  else sentence_model)
        self.eval()

    # --- building blocks ---------------------------------------------------------------------
    @property
    def device(self):
        return self.vision_proj.weight.device

    def encode_images(self, images):
        """[B, C, H, W] in [0, 1] -> visual tokens for the LM [B, N, D]."""
        encoder = self.vision_encoder
        pixels = prepare_pixels(images.to(self.device), self.config.image, encoder.config.patch_size)
        with torch.set_grad_enabled(torch.is_grad_enabled() and pixels.requires_grad):
            tokens = patch_tokens(encoder, pixels.to(encoder.dtype))
        if self.abstractor is not None:
            tokens = self.abstractor(tokens.to(self.abstractor.queries.dtype))
        return self.vision_proj(tokens.to(self.vision_proj.weight.dtype))

    def _image_tokens(self, requests):
        """Per request, {source: [N, D]}; images of one size are encoded in one batch."""
        groups = {}
        for row, request in enumerate(requests):
            for source, image in request['images'].items():
                if image is not None:
                    groups.setdefault(tuple(image.shape), []).append((row, source, image))
        tokens = [{} for _ in requests]
        for members in groups.values():
            encoded = self.encode_images(torch.stack([image for _, _, image in members]))
            for (row, source, _), row_tokens in zip(members, encoded):
                tokens[row][source] = row_tokens
        return tokens

    def _embed(self, requests, extra_pieces=None):
        embed_tokens = self.llm.get_input_embeddings()
        image_tokens = self._image_tokens(requests)
        sequences, labels = [], []
        for row, request in enumerate(requests):
            pieces = self.sequences.pieces(request['task'], request['turns'])
            if extra_pieces is not None:
                pieces = pieces + extra_pieces
            missing = {p.source for p in pieces if not isinstance(p, TextPiece)} - set(image_tokens[row])
            if missing:
                raise ValueError(f"task {request['task']} needs image(s) {sorted(missing)}")
            seq, lab = embed_pieces(pieces, embed_tokens, image_tokens[row])
            sequences.append(seq)
            labels.append(lab)
        return sequences, labels

    # --- training ------------------------------------------------------------------------------
    def answer_loss(self, requests):
        """Next-token cross-entropy on answer tokens only -> (loss, token accuracy)."""
        sequences, labels = self._embed(requests)
        embeds, mask, labels = pad_batch(sequences, labels)
        logits = self.llm(inputs_embeds=embeds, attention_mask=mask).logits[:, :-1].float()
        targets = labels[:, 1:]
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                           ignore_index=IGNORE_INDEX)
        scored = targets != IGNORE_INDEX
        accuracy = (logits.argmax(-1)[scored] == targets[scored]).float().mean()
        return loss, accuracy

    # --- scores ----------------------------------------------------------------------------------
    def option_probabilities(self, requests, options):
        """P(each option | prompt), renormalised over the options -> [B, len(options)].

        The options' shared leading tokens ("Image" in "Image A"/"Image B") are teacher-forced;
        the next-token distribution is read at the first token where they differ.
        """
        option_ids = [self.sequences.token_ids(option) for option in options]
        shared = 0
        while all(len(ids) > shared + 1 for ids in option_ids) and len({ids[shared] for ids in option_ids}) == 1:
            shared += 1
        deciding = [ids[shared] for ids in option_ids]
        if len(set(deciding)) != len(options):
            raise ValueError(f'options {options} are not told apart by one token of this tokenizer')
        prefix = [TextPiece(option_ids[0][:shared])] if shared else None
        sequences, _ = self._embed(requests, prefix)
        embeds, mask, _ = pad_batch(sequences)
        logits = self.llm(inputs_embeds=embeds, attention_mask=mask).logits
        last = logits[torch.arange(len(sequences)), mask.sum(1) - 1].float()
        chosen = torch.log_softmax(last, dim=-1)[:, deciding]
        return torch.softmax(chosen, dim=-1)

    def forward(self, img, ref=None):
        images = _as_batch(img)
        refs = _as_batch(ref) if ref is not None else None
        if self.reference and refs is None:
            raise ValueError('depictqa-fr needs a reference image: call with (img, ref)')
        if refs is not None and refs.shape[0] not in (1, images.shape[0]):
            raise ValueError(f'{refs.shape[0]} references for {images.shape[0]} images')
        refs = refs.expand(images.shape[0], -1, -1, -1) if refs is not None and refs.shape[0] == 1 else refs
        if self.score_method == 'compare':
            return self._score_against_reference(images, refs)
        use_ref = self.reference and refs is not None
        task = templates.task_name(compare=False, reference=use_ref)
        query = templates.with_single_word_tail(templates.RATE_LEVEL_QUESTIONS[0])
        requests = [{'task': task, 'turns': [(query, None)],
                     'images': {'A': image, 'ref': refs[row] if use_ref else None}}
                    for row, image in enumerate(images)]
        words, values = zip(*templates.QUALITY_LEVELS)
        probs = self.option_probabilities(requests, list(words))
        return (probs * torch.tensor(values, device=probs.device)).sum(-1, keepdim=True)

    def _score_against_reference(self, images, refs):
        query = templates.with_single_word_tail(templates.RATE_AB_QUESTIONS[0])
        first = [{'task': 'quality_compare', 'turns': [(query, None)], 'images': {'ref': r, 'A': i, 'B': r}}
                 for i, r in zip(images, refs)]
        second = [{'task': 'quality_compare', 'turns': [(query, None)], 'images': {'ref': r, 'A': r, 'B': i}}
                  for i, r in zip(images, refs)]
        probs = self.option_probabilities(first + second, list(templates.AB_ANSWERS))
        batch = images.shape[0]
        return (0.5 * (probs[:batch, 0] + probs[batch:, 1])).unsqueeze(-1)

    # --- text ------------------------------------------------------------------------------------
    @torch.no_grad()
    def answer(self, requests, detail=False):
        """Decode an answer per request -> list of (text, token ids, token probabilities)."""
        settings = self.config.generation
        sequences, _ = self._embed(requests)
        embeds, mask, _ = pad_batch(sequences, left=True)
        limit = settings.max_new_tokens_detail if detail else settings.max_new_tokens_brief
        generated = generate(self.llm, embeds, mask, self.tokenizer.eos_token_id, limit, settings.max_time_s,
                             settings.temperature, settings.top_p)
        return [(self.tokenizer.decode(ids, skip_special_tokens=True).strip(), ids, probs)
                for ids, probs in zip(generated.token_ids, generated.probs)]

    def describe(self, img, ref=None, detail=False, query=None):
        """Single-image assessment -> (text, confidence); a batch gives a list of those.

        Brief (default): the distortion-identification question with the single-word tail, e.g.
        "Noise" or "Blur and noise". Detailed: the assessment-reasoning question.
        """
        images, single = _images_and_flag(img)
        refs = _match_refs(ref, len(images))
        task = templates.task_name(compare=False, reference=refs is not None)
        if query is None:
            bank = templates.IDENTIFY_QUESTIONS_FR if refs is not None else templates.IDENTIFY_QUESTIONS_NR
            query = templates.ASSESS_DETAIL_QUESTION if detail else templates.with_single_word_tail(bank[0]['generic'])
        requests = [{'task': task, 'turns': [(query, None)],
                     'images': {'A': image, 'ref': refs[row] if refs is not None else None}}
                    for row, image in enumerate(images)]
        answers = self.answer(requests, detail=detail)
        results = [(text, self._confidence(request, text, ids, probs, compare=False))
                   for request, (text, ids, probs) in zip(requests, answers)]
        return results[0] if single else results

    def compare(self, img_a, img_b, ref=None, detail=False, query=None):
        """A/B comparison -> ('Image A' | 'Image B', confidence); detailed: (paragraph, confidence)."""
        images_a, single = _images_and_flag(img_a)
        images_b, _ = _images_and_flag(img_b)
        if len(images_a) != len(images_b):
            raise ValueError(f'{len(images_a)} A images but {len(images_b)} B images')
        refs = _match_refs(ref, len(images_a))
        task = templates.task_name(compare=True, reference=refs is not None)
        if query is None:
            query = (templates.COMPARE_DETAIL_QUESTION if detail
                     else templates.with_single_word_tail(templates.RATE_AB_QUESTIONS[0]))
        requests = [{'task': task, 'turns': [(query, None)],
                     'images': {'A': a, 'B': b, 'ref': refs[row] if refs is not None else None}}
                    for row, (a, b) in enumerate(zip(images_a, images_b))]
        results = []
        for request, (text, ids, probs) in zip(requests, self.answer(requests, detail=detail)):
            if detail:
                results.append((text, self._confidence(request, text, ids, probs, compare=True)))
                continue
            verdict, confidence = comparison_verdict(ids, probs, self.roles)
            if verdict is None:  # no "Image A/B" in the text: read the verdict off the A/B token
                with torch.no_grad():
                    p_a, p_b = self.option_probabilities([request], list(templates.AB_ANSWERS))[0].tolist()
                verdict, confidence = ('Image A', p_a) if p_a >= p_b else ('Image B', p_b)
            results.append((verdict, confidence))
        return results[0] if single else results

    def _confidence(self, request, text, ids, probs, compare):
        if not is_brief(text):
            return detail_confidence(ids, probs, self.roles, self.sentence_embedder)
        query = request['turns'][-1][0]
        if not templates.asks_single_word(query):  # official: re-ask for a single word, score that
            rerun = dict(request, turns=[(templates.with_single_word_tail(query), None)])
            _, ids, probs = self.answer([rerun])[0]
        if compare:
            return comparison_verdict(ids, probs, self.roles)[1]
        return brief_confidence(ids, probs, self.roles)

    # --- persistence -------------------------------------------------------------------------------
    def trainable_state_dict(self):
        """The delta: projector, abstractor and LoRA, under the official key names."""
        trainable = {name for name, p in self.named_parameters() if p.requires_grad}
        return {k: v for k, v in self.state_dict().items() if k in trainable}

    def save_pretrained(self, folder):
        """Write config, tokenizer and all weights (meant for small models: tests and demos)."""
        from pathlib import Path

        from safetensors.torch import save_file
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.replace(tokenizer=None).save(folder)
        self.tokenizer.save_pretrained(folder / TOKENIZER_FOLDER)
        save_file({k: v.contiguous() for k, v in self.vision_encoder.state_dict().items()},
                  str(folder / VISION_WEIGHTS_FILE))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / MODEL_WEIGHTS_FILE))
        return folder


def _saved_folder(model_config):
    from pathlib import Path
    if isinstance(model_config, (str, Path)) and model_config not in PRESETS:
        return Path(model_config).expanduser()
    return None


def _read_safetensors(path):
    from safetensors.torch import load_file
    return load_file(str(path))


def _resolve_dtype(dtype, config):
    names = {'fp16': torch.float16, 'bf16': torch.bfloat16, 'fp32': torch.float32}
    if dtype == 'auto':
        named = isinstance(config.language_model, str)
        return torch.float16 if named and torch.cuda.is_available() else torch.float32
    if dtype not in names:
        raise ValueError(f"dtype must be 'auto' or one of {sorted(names)}, got {dtype!r}")
    return names[dtype]


def _load_tokenizer(config, saved_folder):
    from transformers import AutoTokenizer
    if saved_folder is not None:
        return AutoTokenizer.from_pretrained(saved_folder / TOKENIZER_FOLDER, trust_remote_code=False)
    if config.tokenizer == 'tiny':
        from pyiqa_uniqa.depictqa.tiny_tokenizer import build_tiny_tokenizer
        return build_tiny_tokenizer()
    source = config.tokenizer or config.language_model
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True, trust_remote_code=False)
    if tokenizer.pad_token_id is None:  # official: pad = eos
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _build_language_model(config, tokenizer, dtype):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM
    spec = config.language_model
    if isinstance(spec, dict):
        spec = dict(spec)
        lm_config = AutoConfig.for_model(
            spec.pop('model_type', 'llama'), vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **spec)
        torch.manual_seed(config.init_seed)
        lm = AutoModelForCausalLM.from_config(lm_config).to(dtype)
    else:
        lm = AutoModelForCausalLM.from_pretrained(spec, dtype=dtype, local_files_only=True,
                                                  trust_remote_code=False)
    lora = config.lora
    torch.manual_seed(config.init_seed + 2)
    return get_peft_model(lm, LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                         target_modules=list(lora.target_modules), task_type='CAUSAL_LM'))


def _as_batch(images):
    """pyiqa passes [B, C, H, W] tensors; a single image or a path is also accepted."""
    if torch.is_tensor(images) and images.dim() == 4:
        return images
    return load_image(images).unsqueeze(0)


def _images_and_flag(images):
    """-> (list of [3, H, W] tensors, whether a single image was given)."""
    if torch.is_tensor(images) and images.dim() == 4:
        return [load_image(image) for image in images], images.shape[0] == 1
    if isinstance(images, (list, tuple)):
        return [load_image(image) for image in images], False
    return [load_image(images)], True


def _match_refs(ref, count):
    if ref is None:
        return None
    refs, _ = _images_and_flag(ref)
    if len(refs) == 1:
        return refs * count
    if len(refs) != count:
        raise ValueError(f'{len(refs)} references for {count} images')
    return refs
