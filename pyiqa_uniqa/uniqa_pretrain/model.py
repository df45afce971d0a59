"""``UniQAPretrainModel``: contrastive image-text pre-training of UniQA's CLIP inside pyiqa's trainer.

Subclass of the foundation's ``FrozenBackboneIQAModel`` (not pyiqa's bare BaseModel) because
everything but the training step is what that class already does right: the network from
``network``, one optimiser over the trainable parameters with ``lr_<part>`` groups, "best"
tracking without a second network copy, and validation that correlates ``net(img)`` with MOS,
which our network answers with its zero-shot level score. What changes here:

- the loss: the symmetric contrastive loss on (image, caption) batches, through the base class's
  one training step (gradient accumulation, clipping, mixed precision), and the temperature
  clamped after each step as CLIP does;
- weight decay is not applied to gains, biases, layer norms and the temperature (open_clip's
  rule for CLIP training);
- checkpoints hold the whole CLIP, frozen parts included: the backbone is the product here and
  ``pyiqa-uniqa export-backbone`` turns any checkpoint (latest or best) into an OpenAI-layout file.

Train options read here: ``contrastive_loss_opt`` (default SymmetricContrastiveLoss) and
``val.report_initial`` (see ``init_training_settings``); the step's ``accumulate_grad_batches``,
``grad_clip_norm`` and ``precision`` are the base class's. Accumulation sums the gradients of
micro-batches, but each micro-batch only contrasts against its own captions: it is not a larger
contrastive batch.
"""
from collections import OrderedDict

from pyiqa.losses import build_loss
from pyiqa.utils import get_root_logger

from pyiqa_uniqa.errors import InvalidOptionError
from pyiqa_uniqa.training.base_model import (
    FrozenBackboneIQAModel,
    trainable_state_dict,
)


def decay_exempt(name, parameter):
    """open_clip's rule: no weight decay on gains, biases, layer norms and the temperature."""
    return parameter.ndim < 2 or 'ln_' in name or 'bias' in name or 'logit_scale' in name


class UniQAPretrainModel(FrozenBackboneIQAModel):
    save_frozen_parameters = True  # the checkpoint is the CLIP being trained, frozen parts included
    option_keys = {'train': {'contrastive_loss_opt'}, 'val': {'report_initial'}}

    def init_training_settings(self):
        super().init_training_settings()
        train_opt = self.opt['train']
        self.cri_contrastive = build_loss(
            dict(train_opt.get('contrastive_loss_opt') or {'type': 'SymmetricContrastiveLoss'})).to(self.device)
        # val.report_initial: the first validation of each dataset also scores the weights training
        # started from (logged as iteration 0), so a log shows what pre-training changed; it costs a
        # CPU copy of the trainable tensors, and is skipped on resume (the start is not the initial state)
        report = (self.opt.get('val') or {}).get('report_initial', False) and not self.opt['path'].get('resume_state')
        self._initial_state = self._trainable_copy() if report else None
        self._initial_reported = set()

    def _trainable_copy(self):
        return {k: v.detach().to('cpu', copy=True) for k, v in trainable_state_dict(self.get_bare_model(self.net)).items()}

    def validation(self, dataloader, current_iter, tb_logger, save_img=False):
        name = dataloader.dataset.opt['name']
        if self._initial_state is not None and name not in self._initial_reported:
            self._initial_reported.add(name)
            bare, trained = self.get_bare_model(self.net), self._trainable_copy()
            bare.load_state_dict(self._initial_state, strict=False)
            get_root_logger().info(f'Validation of the initial weights on {name}, logged as iteration 0:')
            super().validation(dataloader, 0, tb_logger, save_img)
            bare.load_state_dict(trained, strict=False)
        super().validation(dataloader, current_iter, tb_logger, save_img)

    def get_optimizer(self, optim_type, params, lr, **kwargs):
        names = {id(p): n for n, p in self.get_bare_model(self.net).named_parameters()}
        groups = []
        for group in params:
            exempt = [p for p in group['params'] if decay_exempt(names[id(p)], p)]
            decayed = [p for p in group['params'] if not decay_exempt(names[id(p)], p)]
            groups += [{**group, 'params': decayed}, {**group, 'params': exempt, 'weight_decay': 0.0}]
        return super().get_optimizer(optim_type, [g for g in groups if g['params']], lr, **kwargs)

    def feed_data(self, data):
        super().feed_data(data)
        self.text_tokens = data['text_tokens'].to(self.device) if 'text_tokens' in data else None

    def compute_loss(self):
        if self.text_tokens is None:
            raise InvalidOptionError('UniQAPretrainModel trains on image-caption batches (an ImageTextDataset); '
                                     'the training batch has no text_tokens.')
        image_features, text_features, logit_scale = self.net(self.img_input, self.text_tokens)
        loss = self.cri_contrastive(image_features, text_features, logit_scale)
        return loss, OrderedDict(l_contrastive=loss, logit_scale=logit_scale)

    def optimize_parameters(self, current_iter):
        super().optimize_parameters(current_iter)
        self.get_bare_model(self.net).clamp_logit_scale()  # CLIP's clamp; a no-op between steps
