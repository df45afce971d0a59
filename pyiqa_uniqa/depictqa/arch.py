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
import os
from pathlib import Path
from typing import NamedTuple, Optional

import torch
from safetensors.torch import save_file
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from pyiqa_uniqa.backbones import FrozenTowerModule
from pyiqa_uniqa.backbones.clip_input import ClipInput
from pyiqa_uniqa.backbones.lora import LoraConfig, get_peft_model
from pyiqa_uniqa.backbones.precision import DTYPES, check_precision, frozen_autocast
from pyiqa_uniqa.backbones.sentence_embedder import SentenceEmbedder
from pyiqa_uniqa.depictqa import templates
from pyiqa_uniqa.depictqa.confidence import (
    AnswerTokens,
    compare_brief_confidence,
    detail_confidence,
    single_brief_confidence,
)
from pyiqa_uniqa.depictqa.config import PRESETS, DepictQAConfigError, resolve_config, with_overrides
from pyiqa_uniqa.depictqa.evaluation import verdict
from pyiqa_uniqa.depictqa.generation import generate
from pyiqa_uniqa.depictqa.images import load_image, prepare_pixels
from pyiqa_uniqa.depictqa.official_checkpoint import normalise_delta_keys
from pyiqa_uniqa.depictqa.records import is_brief
from pyiqa_uniqa.depictqa.sequence import IGNORE_INDEX, SequenceBuilder, TextPiece, embed_pieces, pad_batch
from pyiqa_uniqa.depictqa.sources import check_sources, preset_sources, release_weights
from pyiqa_uniqa.depictqa.tiny_tokenizer import build_tiny_tokenizer
from pyiqa_uniqa.depictqa.vision import Abstractor, build_vision_encoder, geometry_of, patch_tokens
from pyiqa_uniqa.errors import InvalidInputError, InvalidOptionError, UserError
from pyiqa_uniqa.model_folder import loads_model_folders
from pyiqa_uniqa.weights import RANDOM, load_trained, read_checkpoint, trainable_state_dict

SCORE_METHODS = ('levels', 'compare')


class DepictQAInputError(InvalidInputError):
    """Images, references or questions that do not go together."""


class Answer(NamedTuple):
    """What ``describe`` and ``compare`` return per image: the answer text and its confidence.

    ``confidence`` is in [0, 1], or ``None`` where the official computation gives none (a detailed
    answer without a sentence model, a brief answer with no tokens left to score).
    """
    text: str
    confidence: Optional[float]
VISION_WEIGHTS_FILE = 'vision.safetensors'
MODEL_WEIGHTS_FILE = 'model.safetensors'
TOKENIZER_FOLDER = 'tokenizer'


class DepictQA(FrozenTowerModule):
    """Args:
        model_config: preset ('wild', 'wild-abstractor', 'tiny'), a folder from ``save_pretrained``,
            a dict or a ``DepictQAConfig``.
        pretrained_model_path: the trained delta (a released ``ckpt.pt`` or a checkpoint of
            ``pyiqa-uniqa train``), or a model folder of ``pyiqa-uniqa export-model`` /
            ``'hf-hub:ORG/REPO'`` (its options then replace these arguments; ``pyiqa_uniqa.model_folder``).
            ``None``: for the 'wild' presets the official release (from
            ``$DEPICTQA_WEIGHTS``, pyiqa's cache, or downloaded), for other configs none;
            ``'random'``: none (the trainable parts stay as initialised, e.g. to train them).
        reference: FR mode (``depictqa-fr``): ``forward(img, ref)``.
        score_method: 'levels' or 'compare' (FR), see the module doc.
        backbone_weights: the vision tower's weights: ``None`` (the config's default source:
            ``openai/clip-vit-large-patch14`` for the 'wild' presets), ``'random'``, a Hugging Face
            id or folder, or an OpenAI-layout state dict file. See ``DepictQAConfig``.
        language_model / tokenizer: the base LM (Hugging Face id or folder) and its tokenizer.
        sentence_model: the sentence embedder of the detailed-answer confidence: a Hugging Face id
            or folder of a sentence-transformers model (the official:
            'sentence-transformers/all-MiniLM-L6-v2'), a ``SentenceEmbedder``, or a callable
            list[str] -> [N, D] Tensor. ``None``: detailed answers get confidence ``None``, as in the
            official code when its sentence model is absent.
        precision: 'fp32', 'fp16' or 'bf16'; ``None``: 'fp16' when CUDA is available (the official
            inference runs the whole model in fp16), else 'fp32'. In half precision the frozen
            parts (vision tower, LM) are stored in it and every forward runs under
            ``frozen_autocast``; trainable parts keep fp32 weights.
        batching: how answers decoded together are padded: 'masked' (default; each answer equals
            its batch-1 answer) or 'official' (the official eval scripts' unmasked EOS padding; use
            it at batch 16 to reproduce published numbers). See ``GenerationSettings``.
        config_overrides: fields of ``DepictQAConfig`` to change, nested ones key by key, e.g.
            ``{'lora': {'r': 8}, 'generation': {'max_new_tokens': 200}}``.

    Random parts (the tiny test model, new trainable parts) are seeded from ``init_seed`` with a
    local RNG: building a model never changes the global random state.
    """

    @classmethod
    def sources_for(cls, model_config='wild', **_):
        """keyword -> ``WeightSource`` of every file a metric config with these options needs."""
        return preset_sources(model_config)

    @loads_model_folders('DepictQA')
    def __init__(self, model_config='wild', pretrained_model_path=None, reference=False, score_method='levels',
                 backbone_weights=None, language_model=None, tokenizer=None, sentence_model=None, precision=None,
                 batching=None, config_overrides=None):
        super().__init__()
        config = _config_of(model_config, backbone_weights, language_model, tokenizer, batching, config_overrides)
        if score_method not in SCORE_METHODS:
            raise DepictQAConfigError(f'score_method must be one of {SCORE_METHODS}, got {score_method!r}')
        if score_method == 'compare' and not reference:
            raise DepictQAConfigError("score_method='compare' scores an image against its reference: use depictqa-fr")
        self.config, self.reference, self.score_method = config, reference, score_method
        saved_folder = _saved_folder(model_config)
        check_sources(config, model_config, pretrained_model_path)
        delta = release_weights(model_config, pretrained_model_path)
        # None: fp16 on CUDA as the official inference (model.half()), else fp32
        self.precision = check_precision(precision or ('fp16' if torch.cuda.is_available() else 'fp32'), 'cpu')
        frozen_dtype = DTYPES[self.precision]

        self.tokenizer = _load_tokenizer(config, saved_folder)
        encoder = build_vision_encoder(config.vision, config.backbone_weights, config.init_seed)
        if saved_folder is not None:
            encoder.load_state_dict(read_checkpoint(saved_folder / VISION_WEIGHTS_FILE))
        self.hold_frozen('vision_encoder', encoder.to(frozen_dtype))
        self.clip_input = ClipInput(encoder.config.image_size)  # OpenAI CLIP's mean/std
        self.llm = _build_language_model(config, self.tokenizer, frozen_dtype)
        width = encoder.config.hidden_size
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.init_seed + 1)
            self.abstractor = Abstractor(width, config.abstractor) if config.abstractor else None
            self.vision_proj = nn.Linear(width, self.llm.get_input_embeddings().weight.shape[1])
        if saved_folder is not None:
            self.load_state_dict(read_checkpoint(saved_folder / MODEL_WEIGHTS_FILE))
        if delta is not None:
            load_trained(self, delta, expect='trainable', rename=normalise_delta_keys, what='this DepictQA network',
                         hint='Check that the model config (LoRA rank, projector width, abstractor) matches the file.')

        self.sequences = SequenceBuilder(self.tokenizer, config.unique_tag)
        self.answer_tokens = AnswerTokens(self.tokenizer)
        if isinstance(sentence_model, (str, os.PathLike)):
            sentence_model = SentenceEmbedder(sentence_model, keyword='sentence_model')
        self.embed_sentences = sentence_model.embed if isinstance(sentence_model, SentenceEmbedder) else sentence_model
        self.eval()

    @staticmethod
    def missing_weights(options):
        """For the train preflight: one line per weight part a recipe's ``network`` options need that is
        not on this machine (the base models, the delta), found as the constructor finds them."""
        model_config = options.get('model_config', 'wild')
        problems = []
        try:
            config = _config_of(model_config, options.get('backbone_weights'), options.get('language_model'),
                                options.get('tokenizer'), options.get('batching'), options.get('config_overrides'))
            check_sources(config, model_config, options.get('pretrained_model_path'))
        except UserError as err:
            problems.append(str(err))
        try:
            release_weights(model_config, options.get('pretrained_model_path'))
        except UserError as err:
            problems.append(str(err))
        return problems

    # --- building blocks ---------------------------------------------------------------------
    @property
    def device(self):
        return self.vision_proj.weight.device

    def _autocast(self):
        """What every forward runs in: ``frozen_autocast`` at this model's precision (nothing for fp32)."""
        return frozen_autocast(self.precision, self.device)

    def encode_images(self, images):
        """[B, C, H, W] in [0, 1] -> visual tokens for the LM [B, N, D]."""
        encoder = self.vision_encoder
        pixels = prepare_pixels(images.to(self.device), self.config.image, encoder.config.patch_size, self.clip_input)
        with torch.set_grad_enabled(torch.is_grad_enabled() and pixels.requires_grad):
            tokens = patch_tokens(encoder, pixels.to(encoder.dtype))
        if self.abstractor is not None:
            tokens = self.abstractor(tokens.to(self.abstractor.query_embeds.dtype))
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

    def _embed(self, requests, extra_pieces=None, training=False):
        """-> one ``Embedded`` per request; ``training`` applies the official text limit and mask."""
        embed_tokens = self.llm.get_input_embeddings()
        image_tokens = self._image_tokens(requests)
        limit = self.config.max_text_tokens if training else None
        hidden = self.tokenizer.eos_token_id if training and self.config.hide_eos_in_training else None
        rows = []
        for row, request in enumerate(requests):
            pieces = self.sequences.pieces(request['task'], request['turns'], limit)
            if extra_pieces is not None:
                pieces = pieces + extra_pieces
            missing = {p.source for p in pieces if not isinstance(p, TextPiece)} - set(image_tokens[row])
            if missing:
                raise DepictQAInputError(f"task {request['task']} needs image(s) {sorted(missing)}")
            rows.append(embed_pieces(pieces, embed_tokens, image_tokens[row], hidden))
        return rows

    # --- training ------------------------------------------------------------------------------
    def answer_loss(self, requests):
        """Next-token cross-entropy on answer tokens only -> (loss, token accuracy)."""
        with self._autocast():
            embeds, mask, labels = pad_batch(self._embed(requests, training=True))
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
            raise InvalidOptionError(f'options {options} are not told apart by one token of this tokenizer')
        prefix = [TextPiece(option_ids[0][:shared])] if shared else None
        with self._autocast():
            embeds, mask, _ = pad_batch(self._embed(requests, prefix))
            logits = self.llm(inputs_embeds=embeds, attention_mask=mask).logits
        last = logits[torch.arange(len(requests)), mask.sum(1) - 1].float()
        chosen = torch.log_softmax(last, dim=-1)[:, deciding]
        return torch.softmax(chosen, dim=-1)

    def forward(self, img, ref=None):
        images = _as_batch(img)
        refs = _as_batch(ref) if ref is not None else None
        if self.reference and refs is None:
            raise DepictQAInputError('depictqa-fr needs a reference image: call it as metric(img, ref).')
        if refs is not None and refs.shape[0] not in (1, images.shape[0]):
            raise DepictQAInputError(f'{refs.shape[0]} references for {images.shape[0]} images: give one, or one per image.')
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
    def answer(self, requests):
        """Decode an answer per request -> list of (text, token ids, token probabilities)."""
        settings = self.config.generation
        eos = self.tokenizer.eos_token_id
        fill = None
        if settings.batching == 'official':  # EOS padding, attended
            fill = self.llm.get_input_embeddings()(torch.tensor(eos, device=self.device))
        with self._autocast():
            embeds, mask, _ = pad_batch(self._embed(requests), left=True, fill=fill)
            generated = generate(self.llm, embeds, mask, eos, settings.max_new_tokens, settings.max_time_s,
                                 settings.temperature, settings.top_p, settings.top_k)
        return [(self.tokenizer.decode(ids, skip_special_tokens=True).strip(), ids, probs)
                for ids, probs in zip(generated.token_ids, generated.probs)]

    def describe(self, img, ref=None, detail=False, query=None):
        """Single-image assessment -> ``Answer(text, confidence)``; a batch gives a list of those.

        Brief (default): the distortion-identification question with the single-word tail, e.g.
        "Noise" or "Blur and noise". Detailed: the assessment-reasoning question. ``query``: one
        question for every image, or a list with one per image.
        """
        images, single = _images_and_flag(img)
        refs = _match_refs(ref, len(images))
        task = templates.task_name(compare=False, reference=refs is not None)
        if query is None:
            bank = templates.IDENTIFY_QUESTIONS_FR if refs is not None else templates.IDENTIFY_QUESTIONS_NR
            query = templates.ASSESS_DETAIL_QUESTION if detail else templates.with_single_word_tail(bank[0]['generic'])
        requests = [{'task': task, 'turns': [(question, None)],
                     'images': {'A': image, 'ref': refs[row] if refs is not None else None}}
                    for row, (image, question) in enumerate(zip(images, _per_image(query, len(images))))]
        results = [Answer(text, self._confidence(request, ids, probs))
                   for request, (text, ids, probs) in zip(requests, self.answer(requests))]
        return results[0] if single else results

    def compare(self, img_a, img_b, ref=None, detail=False, query=None):
        """A/B comparison -> ``Answer('Image A' | 'Image B', confidence)``; detailed: the paragraph.

        A brief answer without "Image A/B" in it (a custom query, an unusual model) gets the verdict
        and its probability from the next-token distribution of the A/B token instead. ``query``:
        one question for every pair, or a list with one per pair.
        """
        images_a, single = _images_and_flag(img_a)
        images_b, _ = _images_and_flag(img_b)
        if len(images_a) != len(images_b):
            raise DepictQAInputError(f'{len(images_a)} A images but {len(images_b)} B images: compare takes pairs.')
        refs = _match_refs(ref, len(images_a))
        task = templates.task_name(compare=True, reference=refs is not None)
        if query is None:
            query = (templates.COMPARE_DETAIL_QUESTION if detail
                     else templates.with_single_word_tail(templates.RATE_AB_QUESTIONS[0]))
        requests = [{'task': task, 'turns': [(question, None)],
                     'images': {'A': a, 'B': b, 'ref': refs[row] if refs is not None else None}}
                    for row, (a, b, question) in enumerate(zip(images_a, images_b, _per_image(query, len(images_a))))]
        results = []
        for request, (text, ids, probs) in zip(requests, self.answer(requests)):
            confidence = self._confidence(request, ids, probs)
            if detail:
                results.append(Answer(text, confidence))
                continue
            choice = verdict(text)
            if choice is None:
                with torch.no_grad():
                    p_a, p_b = self.option_probabilities([request], list(templates.AB_ANSWERS))[0].tolist()
                choice, confidence = ('Image A', p_a) if p_a >= p_b else ('Image B', p_b)
            results.append(Answer(choice, confidence))
        return results[0] if single else results

    def _confidence(self, request, ids, probs):
        """The official confidence of one generated answer (rules in ``confidence``)."""
        if not is_brief(self.answer_tokens.text(ids)):
            return detail_confidence(ids, probs, self.answer_tokens, self.embed_sentences)
        query = request['turns'][-1][0]
        if not templates.asks_single_word(query):  # official: ask again for a single word, score that
            rerun = dict(request, turns=request['turns'][:-1] + [(query + templates.SINGLE_WORD_TAIL, None)])
            _, ids, probs = self.answer([rerun])[0]
            return self._confidence(rerun, ids, probs)
        if request['task'].startswith('quality_compare'):
            return compare_brief_confidence(ids, probs, self.answer_tokens)
        return single_brief_confidence(ids, probs, self.answer_tokens)

    # --- persistence -------------------------------------------------------------------------------
    def trainable_state_dict(self):
        """The delta: projector, abstractor and LoRA, under the official key names."""
        return trainable_state_dict(self)

    def save_pretrained(self, folder):
        """Write config, tokenizer and all weights (meant for small models: tests and demos)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.replace(tokenizer=None, vision=geometry_of(self.vision_encoder), backbone_weights=RANDOM).save(folder)
        self.tokenizer.save_pretrained(folder / TOKENIZER_FOLDER)
        save_file({k: v.contiguous() for k, v in self.vision_encoder.state_dict().items()},
                  str(folder / VISION_WEIGHTS_FILE))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / MODEL_WEIGHTS_FILE))
        return folder


def _config_of(model_config, backbone_weights, language_model, tokenizer, batching, config_overrides):
    """The ``DepictQAConfig`` a model is built from: the preset or folder, then the overrides."""
    parts = dict(backbone_weights=backbone_weights, language_model=language_model, tokenizer=tokenizer)
    overrides = {**(config_overrides or {}), **{k: v for k, v in parts.items() if v is not None}}
    if batching is not None:
        overrides['generation'] = {**overrides.get('generation', {}), 'batching': batching}
    return with_overrides(resolve_config(model_config), overrides)


def _saved_folder(model_config):
    if isinstance(model_config, (str, Path)) and model_config not in PRESETS:
        return Path(model_config).expanduser()
    return None


def _load_tokenizer(config, saved_folder):
    if saved_folder is not None:
        return AutoTokenizer.from_pretrained(saved_folder / TOKENIZER_FOLDER, trust_remote_code=False)
    if config.tokenizer == 'tiny':
        return build_tiny_tokenizer()
    source = config.tokenizer or config.language_model
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True, trust_remote_code=False)
    if tokenizer.pad_token_id is None:  # official: pad = eos
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _build_language_model(config, tokenizer, dtype):
    spec = config.language_model
    with torch.random.fork_rng(devices=[]):
        if isinstance(spec, dict):
            spec = dict(spec)
            lm_config = AutoConfig.for_model(
                spec.pop('model_type', 'llama'), vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **spec)
            torch.manual_seed(config.init_seed)
            lm = AutoModelForCausalLM.from_config(lm_config).to(dtype)
        else:
            lm = AutoModelForCausalLM.from_pretrained(spec, dtype=dtype, local_files_only=True, trust_remote_code=False)
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


def _per_image(query, count):
    if isinstance(query, str):
        return [query] * count
    if len(query) != count:
        raise DepictQAInputError(f'{len(query)} queries for {count} images: give one, or one per image.')
    return list(query)


def _match_refs(ref, count):
    if ref is None:
        return None
    refs, _ = _images_and_flag(ref)
    if len(refs) == 1:
        return refs * count
    if len(refs) != count:
        raise DepictQAInputError(f'{len(refs)} references for {count} images: give one, or one per image.')
    return refs
