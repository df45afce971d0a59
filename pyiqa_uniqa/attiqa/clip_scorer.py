"""Zero-shot attribute scores from CLIP, as CLIP-IQA computes them.

For an attribute with prompts (positive, negative), the score of an image is the softmax over
the two scaled cosine similarities, taking the positive entry: a probability in [0, 1]. Prompt
features are encoded once (``encode_prompts`` caches them); images are resized (short side, with
antialiasing) and centre-cropped to CLIP's input size, since CLIP's position embeddings fix it.
"""
import torch
import torch.nn.functional as F

from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.backbones import create_clip, encode_prompts, get_tokenizer
from pyiqa_uniqa.backbones.clip import OPENAI_CLIP
from pyiqa_uniqa.backbones.clip_input import ClipInput
from pyiqa_uniqa.backbones.precision import PRECISIONS, check_precision, frozen_autocast

DEFAULT_LABELLER_CLIP = 'ViT-B-16-quickgelu'


def add_clip_arguments(parser):
    group = parser.add_argument_group('CLIP')
    group.add_argument('--model-name', default=DEFAULT_LABELLER_CLIP,
                       help=f'open_clip model name (default {DEFAULT_LABELLER_CLIP}; tiny-clip-quickgelu for tests)')
    group.add_argument('--backbone-weights', default=None,
                       help="CLIP weights: an OpenAI-layout checkpoint path, an open_clip pretrained tag, or 'random' "
                            f"(meaningless scores; tests only); default {OPENAI_CLIP.default_tag!r} (OpenAI's weights, "
                            'downloaded once by open_clip)')
    group.add_argument('--device', default=None, help='cpu, cuda, cuda:1 ... (default: cuda if available)')
    group.add_argument('--precision', default='fp32', choices=PRECISIONS,
                       help='precision of the image tower (fp16/bf16 about twice as fast on GPU)')
    group.add_argument('--batch-size', type=int, default=32)


def labeller_weights(args):
    """The ``--backbone-weights`` value in force (None means OpenAI's weights)."""
    return args.backbone_weights or OPENAI_CLIP.default_tag


def build_clip_from_args(args, device):
    # 'random' weights are seeded by create_clip: identical across shards and resumed runs
    return (create_clip(args.model_name, weights=args.backbone_weights, device=device, source=OPENAI_CLIP),
            get_tokenizer(args.model_name))


def clip_input_size(clip_model):
    return ClipInput.of(clip_model).size


def encode_pairs(clip_model, tokenizer, pairs):
    """[(positive, negative), ...] -> unit-norm text features (positive [K, D], negative [K, D]),
    all prompts in one cached ``encode_prompts`` call."""
    prompts = [prompt for pair in pairs for prompt in pair]
    text = F.normalize(encode_prompts(clip_model, tokenizer, prompts), dim=-1)
    return text[0::2], text[1::2]


class CLIPAttributeScorer:
    """pairs: {attribute: (positive prompt, negative prompt)}, scored in ``ATTRIBUTES`` order
    (an empty dict gives an image-feature extractor only); precision: of the image tower (the
    prompts are encoded once, in fp32)."""

    def __init__(self, clip_model, tokenizer, pairs, precision='fp32'):
        self.attributes = [name for name in ATTRIBUTES if name in pairs]
        self.clip = clip_model
        self.clip_input = ClipInput.of(clip_model).to(next(clip_model.parameters()).device)
        self.size = self.clip_input.size
        self.precision = check_precision(precision, self.device)
        if self.attributes:
            self.positive_text, self.negative_text = encode_pairs(
                clip_model, tokenizer, [pairs[name] for name in self.attributes])

    @property
    def device(self):
        return self.clip_input.mean.device

    @torch.no_grad()
    def image_features(self, images):
        """Unit-norm CLIP image features [B, D] for images in [0, 1] of any size."""
        images = self.clip_input(images.to(self.device).float())
        with frozen_autocast(self.precision, self.device):
            features = self.clip.encode_image(images)
        return F.normalize(features.float(), dim=-1)

    def positive_probability(self, image_features, positive_text, negative_text):
        """[B, D] x [K, D] x [K, D] -> [B, K]: softmax over each pair, the positive entry."""
        scale = self.clip.logit_scale.detach().exp().float()
        logits_pos = scale * image_features @ positive_text.T
        logits_neg = scale * image_features @ negative_text.T
        return torch.sigmoid(logits_pos - logits_neg)  # == softmax([pos, neg])[0]

    def __call__(self, images):
        """[B, K] attribute probabilities, columns in ``self.attributes`` order."""
        return self.positive_probability(self.image_features(images), self.positive_text, self.negative_text)
