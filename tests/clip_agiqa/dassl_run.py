"""Write checkpoints exactly as the official CLIP-AGIQA trainer does: a short run of its Dassl loop.

What the official code does (github.com/wzczc/CLIP-AGIQA trainers/clip_agiqa.py, train.py, the
README command; Dassl.pytorch dassl/engine/trainer.py, dassl/optim, dassl/utils/torchtools.py),
re-written here with the same torch objects:

- two registered parts, ``prompt_learner`` (``ctx`` plus the ``token_prefix``/``token_suffix``
  buffers, in CLIP's dtype: fp16 under the default ``PREC fp16``) and ``regression``
  (``Sequential(Dropout, Linear(7D, 512), ReLU, Dropout, Linear(512, 1))``, fp32), each with its own
  ``torch.optim.SGD`` (lr 0.002, momentum 0.9, weight decay 5e-4, dampening 0, no Nesterov) and
  scheduler: ``CosineAnnealingLR(optim, float(max_epoch))`` wrapped in Dassl's constant warm-up
  (one epoch at 1e-5), whose ``state_dict()`` keeps the cosine scheduler object, optimizer included;
- per batch: zero both optimizers, backward the MSE to the MOS, step both; after the last batch of
  an epoch both schedulers step;
- after each epoch (``TEST.FINAL_MODEL best_val``): a better validation result saves every part as
  ``<out>/<part>/model-best.pth.tar``; the last epoch saves ``<out>/<part>/model.pth.tar-<epoch>``;
  each file is ``torch.save({'state_dict', 'epoch', 'optimizer', 'scheduler', 'val_result'})``
  (``state_dict`` an OrderedDict without ``module.``), and a text file ``checkpoint`` beside it names
  the last file written.
"""
from collections import OrderedDict
from pathlib import Path

import open_clip
import torch
import torch.nn.functional as F
from clip_agiqa_reference import image_features, prompt_embeddings, text_features
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler

LEVELS = ('terrible', 'bad', 'poor', 'average', 'good', 'perfect')


class ConstantWarmupScheduler(LRScheduler):
    """Dassl's constant warm-up: ``cons_lr`` for ``warmup_epoch`` epochs, then the successor."""

    def __init__(self, optimizer, successor, warmup_epoch, cons_lr):
        self.successor = successor
        self.warmup_epoch = warmup_epoch
        self.cons_lr = cons_lr
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch >= self.warmup_epoch:
            return self.successor.get_last_lr()
        return [self.cons_lr for _ in self.base_lrs]

    def step(self, epoch=None):
        if self.last_epoch >= self.warmup_epoch:
            self.successor.step(epoch)
            self._last_lr = self.successor.get_last_lr()
        else:
            super().step(epoch)


def official_optimizer(module, max_epoch, lr=0.002, warmup_epoch=1, warmup_lr=1e-5):
    """Dassl's ``build_optimizer`` + ``build_lr_scheduler`` for the official configs."""
    optimizer = torch.optim.SGD(module.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4, dampening=0,
                                nesterov=False)
    scheduler = CosineAnnealingLR(optimizer, float(max_epoch))
    if warmup_epoch > 0:
        scheduler = ConstantWarmupScheduler(optimizer, scheduler, warmup_epoch, warmup_lr)
    return optimizer, scheduler


class OfficialPromptLearner(nn.Module):
    """The official ``PromptLearner`` (class token at the end), built from the raw CLIP tensors."""

    def __init__(self, clip_sd, n_ctx=16, ctx_init='', class_specific=False, dtype=torch.float16):
        super().__init__()
        embedding = clip_sd['token_embedding.weight'].float()
        if ctx_init:
            n_ctx = len(ctx_init.split(' '))
            ctx = embedding[open_clip.tokenize([ctx_init])[0, 1:1 + n_ctx]].to(dtype)
            prefix = ctx_init
        else:
            ctx = torch.empty((len(LEVELS), n_ctx, embedding.shape[1]) if class_specific
                              else (n_ctx, embedding.shape[1]), dtype=dtype)
            nn.init.normal_(ctx, std=0.02)
            prefix = ' '.join(['X'] * n_ctx)
        self.ctx = nn.Parameter(ctx)
        self.tokens = open_clip.tokenize([f'{prefix} {name}.' for name in LEVELS])
        embedded = embedding[self.tokens].to(dtype)
        self.register_buffer('token_prefix', embedded[:, :1, :])
        self.register_buffer('token_suffix', embedded[:, 1 + n_ctx:, :])

    def forward(self):
        return prompt_embeddings(self.ctx, self.token_prefix, self.token_suffix)


def official_regression(width):
    return nn.Sequential(nn.Dropout(), nn.Linear(width * (len(LEVELS) + 1), 512), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(512, 1))


def _forward(clip_sd, prompt_learner, regression, images, vision_heads, text_heads):
    image = image_features(clip_sd, images, vision_heads)
    text = text_features(clip_sd, prompt_learner().float(), prompt_learner.tokens, text_heads)
    image = image / image.norm(dim=-1, keepdim=True)
    text = text / text.norm(dim=-1, keepdim=True)
    features = torch.cat([image.unsqueeze(1), text.expand(image.shape[0], -1, -1)], dim=1).flatten(1)
    return regression(features).squeeze(1)


def save_model(parts, epoch, directory, val_result, model_name=''):
    """Dassl's ``save_model`` + ``save_checkpoint`` (the ``module.`` prefix dropped, then torch.save)."""
    for name, (module, optimizer, scheduler) in parts.items():
        folder = Path(directory) / name
        folder.mkdir(parents=True, exist_ok=True)
        state_dict = OrderedDict((k[7:] if k.startswith('module.') else k, v) for k, v in module.state_dict().items())
        path = folder / (model_name or f'model.pth.tar-{epoch + 1}')
        torch.save({'state_dict': state_dict, 'epoch': epoch + 1, 'optimizer': optimizer.state_dict(),
                    'scheduler': scheduler.state_dict(), 'val_result': val_result}, path)
        (folder / 'checkpoint').write_text(f'{path.name}\n')


def train_official(directory, clip_sd, *, vision_heads, text_heads, n_ctx=16, ctx_init='', class_specific=False,
                   precision='fp16', max_epoch=3, batches=2, batch_size=4, image_size=224, seed=1):
    """Run the official loop for ``max_epoch`` epochs on random images; returns the parts' modules."""
    torch.manual_seed(seed)
    clip_sd = {k: v.float() for k, v in clip_sd.items()}
    dtype = torch.float16 if precision == 'fp16' else torch.float32
    prompt_learner = OfficialPromptLearner(clip_sd, n_ctx, ctx_init, class_specific, dtype)
    regression = official_regression(clip_sd['text_projection'].shape[1])
    parts = {'prompt_learner': (prompt_learner, *official_optimizer(prompt_learner, max_epoch)),
             'regression': (regression, *official_optimizer(regression, max_epoch))}
    images = torch.rand(batches, batch_size, 3, image_size, image_size)
    mos = torch.rand(batches, batch_size) * 5
    best = -float('inf')
    for epoch in range(max_epoch):
        regression.train()
        for batch in range(batches):
            loss = F.mse_loss(_forward(clip_sd, prompt_learner, regression, images[batch], vision_heads, text_heads),
                              mos[batch])
            for _, optimizer, _ in parts.values():
                optimizer.zero_grad()
            loss.backward()
            for _, optimizer, _ in parts.values():
                optimizer.step()
            if batch + 1 == batches:
                for _, _, scheduler in parts.values():
                    scheduler.step()
        regression.eval()
        with torch.no_grad():
            result = -F.mse_loss(_forward(clip_sd, prompt_learner, regression, images[0], vision_heads, text_heads),
                                 mos[0]).item()
        if result > best:
            best = result
            save_model(parts, epoch, directory, val_result=result, model_name='model-best.pth.tar')
        if epoch + 1 == max_epoch:
            save_model(parts, epoch, directory, val_result=None)
    return prompt_learner, regression
