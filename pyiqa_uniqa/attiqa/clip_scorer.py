"""Zero-shot attribute scores from CLIP, as CLIP-IQA computes them.

For an attribute with prompts (positive, negative), the score of an image is the softmax over
the two scaled cosine similarities, taking the positive entry: a probability in [0, 1]. Prompt
features are encoded once (``encode_prompts`` caches them); images are resized (short side, with
antialiasing) and centre-cropped to CLIP's input size, since CLIP's position embeddings fix it.
"""
import torch
import torch.nn.functional as F

from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.backbones.clip_input import resize_center_crop

DEFAULT_LABELLER_CLIP = 'ViT-B-16-quickgelu'
DEFAULT_LABELLER_WEIGHTS = 'openai'


def add_clip_arguments(parser):
    group = parser.add_argument_group('CLIP')
    group.add_argument('--model-name', default=DEFAULT_LABELLER_CLIP,
                       help=f'open_clip model name (default {DEFAULT_LABELLER_CLIP}; tiny-clip-quickgelu for tests)')
    group.add_argument('--clip-weights', default=DEFAULT_LABELLER_WEIGHTS,
                       help="OpenAI-layout checkpoint path, an open_clip pretrained tag ('openai', needs network "
                            "once), or 'none' for random weights (meaningless scores; tests only)")
    group.add_argument('--device', default=None, help='cpu, cuda, cuda:1 ... (default: cuda if available)')
    group.add_argument('--batch-size', type=int, default=32)


def build_clip_from_args(args, device):
    from pyiqa_uniqa.backbones import create_clip, get_tokenizer
    from pyiqa_uniqa.weights import RANDOM
    # random weights (seeded by create_clip) stay identical across shards and resumed runs
    weights = RANDOM if str(args.clip_weights).lower() == 'none' else args.clip_weights
    return create_clip(args.model_name, weights=weights, device=device), get_tokenizer(args.model_name)


def clip_input_size(clip_model):
    size = clip_model.visual.image_size
    return size[0] if isinstance(size, (tuple, list)) else int(size)


def encode_pairs(clip_model, tokenizer, pairs):
    """[(positive, negative), ...] -> unit-norm text features (positive [K, D], negative [K, D]),
    all prompts in one cached ``encode_prompts`` call."""
    from pyiqa_uniqa.backbones import encode_prompts
    prompts = [prompt for pair in pairs for prompt in pair]
    text = F.normalize(encode_prompts(clip_model, tokenizer, prompts).float(), dim=-1)
    return text[0::2], text[1::2]


class CLIPAttributeScorer:
    """pairs: {attribute: (positive prompt, negative prompt)}, scored in ``ATTRIBUTES`` order
    (an empty dict gives an image-feature extractor only)."""

    def __init__(self, clip_model, tokenizer, pairs):
        from open_clip import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
        self.attributes = [name for name in ATTRIBUTES if name in pairs]
        self.clip = clip_model
        self.size = clip_input_size(clip_model)
        device = next(clip_model.parameters()).device
        self.mean = torch.tensor(OPENAI_DATASET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(OPENAI_DATASET_STD, device=device).view(1, 3, 1, 1)
        if self.attributes:
            self.positive_text, self.negative_text = encode_pairs(
                clip_model, tokenizer, [pairs[name] for name in self.attributes])

    @property
    def device(self):
        return self.mean.device

    @torch.no_grad()
    def image_features(self, images):
        """Unit-norm CLIP image features [B, D] for images in [0, 1] of any size."""
        images = resize_center_crop(images.to(self.device).float(), self.size)
        return F.normalize(self.clip.encode_image((images - self.mean) / self.std).float(), dim=-1)

    def positive_probability(self, image_features, positive_text, negative_text):
        """[B, D] x [K, D] x [K, D] -> [B, K]: softmax over each pair, the positive entry."""
        scale = self.clip.logit_scale.detach().exp().float()
        logits_pos = scale * image_features @ positive_text.T
        logits_neg = scale * image_features @ negative_text.T
        return torch.sigmoid(logits_pos - logits_neg)  # == softmax([pos, neg])[0]

    def __call__(self, images):
        """[B, K] attribute probabilities, columns in ``self.attributes`` order."""
        return self.positive_probability(self.image_features(images), self.positive_text, self.negative_text)
