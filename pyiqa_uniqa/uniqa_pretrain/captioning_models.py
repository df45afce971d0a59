"""Captioners: a Hugging Face vision-language model, or a template (no model, for offline use).

Both take a batch of ``CaptionRequest`` and return one caption per request. The Hugging Face
captioner loads any checkpoint that ``AutoProcessor`` + ``AutoModelForImageTextToText`` can load
and whose processor has a chat template (LLaVA-1.5 ``llava-hf/llava-1.5-7b-hf``, LLaVA-NeXT, Qwen2-VL
/ Qwen2.5-VL ``Qwen/Qwen2-VL-7B-Instruct``, ...). Generation is greedy, so a re-run gives the
same captions.
"""
from dataclasses import dataclass, field

import torch

from pyiqa_uniqa.data.images import read_image
from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.weights import WeightSource, require_hf_model

TEMPLATE_MODEL = 'template'


@dataclass
class CaptionRequest:
    image_path: str
    task: str
    level: int
    distortions: list = field(default_factory=list)  # [(name, severity 1..5)], when the data knows them


class TemplateCaptioner:
    """Captions from the level and the known distortions alone: '<level sentence> <distortion sentences>'."""

    name = TEMPLATE_MODEL

    def __init__(self, prompts):
        self.prompts = prompts

    def instruction(self, request):
        return self.prompts.task(request.task)['template'].format(level=self.prompts.levels[request.level])

    def caption(self, requests):
        captions = []
        for request in requests:
            sentences = [self.instruction(request)]
            sentences += [self.prompts.distortion_sentence(name, severity)
                          for name, severity in request.distortions]
            captions.append(' '.join(sentences))
        return captions


class VisionLanguageCaptioner:
    """Batched greedy captioning with a Hugging Face image-text-to-text model."""

    def __init__(self, model_id, prompts, device=None, dtype='auto', max_new_tokens=128,
                 max_image_side=1024, flag='--model'):
        # transformers costs seconds to import; the template captioner (and the demo) never need it
        import transformers

        # offline, fail in seconds naming the flag that took the model (the hub would retry for minutes)
        require_hf_model(model_id, WeightSource('config.json', keyword=flag.lstrip('-'), flag=flag,
                                                what='The captioning model'))

        self.name = str(model_id)
        self.prompts = prompts
        self.max_new_tokens = max_new_tokens
        self.max_image_side = max_image_side
        self.device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        torch_dtype = _resolve_dtype(dtype, self.device)
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(model_id, trust_remote_code=False)
        except (OSError, ValueError) as err:
            raise UserError(
                f'{flag} {model_id}: could not load a processor ({err}). Pass a Hugging Face model id '
                '(downloaded once into the HF cache) or a local folder written by save_pretrained.') from None
        tokenizer = getattr(self.processor, 'tokenizer', None)
        if tokenizer is None or getattr(self.processor, 'chat_template', None) is None:
            raise UserError(
                f'{flag} {model_id}: its processor has no tokenizer or chat template, so it cannot be '
                'prompted as a chat model. Use an instruction-tuned vision-language model '
                '(e.g. llava-hf/llava-1.5-7b-hf or Qwen/Qwen2-VL-7B-Instruct).')
        tokenizer.padding_side = 'left'  # decoder-only generation continues from the right end
        model_class = getattr(transformers, 'AutoModelForImageTextToText', None) or \
            transformers.AutoModelForVision2Seq
        dtype_key = 'dtype' if _transformers_at_least(transformers, 4, 56) else 'torch_dtype'
        self.model = model_class.from_pretrained(model_id, trust_remote_code=False, **{dtype_key: torch_dtype})
        self.model.to(self.device).eval()

    def instruction(self, request):
        return self.prompts.prompt(request.task, request.level)

    def _chat_text(self, instruction):
        messages = [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': instruction}]}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def caption(self, requests):
        images = [read_image(r.image_path, draft_size=self.max_image_side, max_side=self.max_image_side) for r in requests]
        texts = [self._chat_text(self.instruction(r)) for r in requests]
        inputs = self.processor(text=texts, images=images, padding=True, return_tensors='pt')
        inputs = {k: v.to(self.device) if hasattr(v, 'to') else v for k, v in inputs.items()}
        if 'pixel_values' in inputs and inputs['pixel_values'].is_floating_point():
            inputs['pixel_values'] = inputs['pixel_values'].to(self.model.dtype)
        with torch.inference_mode():
            output = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        generated = output[:, inputs['input_ids'].shape[1]:]
        return [text.strip() for text in self.processor.batch_decode(generated, skip_special_tokens=True)]


def _resolve_dtype(dtype, device):
    if dtype == 'auto':
        if device.type != 'cuda':
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    try:
        return {'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16}[dtype]
    except KeyError:
        raise UserError(f'--dtype must be auto, float32, float16 or bfloat16, not {dtype!r}.') from None


def _transformers_at_least(transformers, major, minor):
    parts = transformers.__version__.split('.')
    return (int(parts[0]), int(parts[1])) >= (major, minor)


def build_captioner(model, prompts, **options):
    """``'template'`` gives the template captioner; anything else is a Hugging Face id or folder."""
    if model == TEMPLATE_MODEL:
        return TemplateCaptioner(prompts)
    return VisionLanguageCaptioner(model, prompts, **options)
