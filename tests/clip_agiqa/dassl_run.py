"""Write checkpoints exactly as the official CLIP-AGIQA trainer does: a short run of its Dassl loop.

What the official code does (github.com/wzczc/CLIP-AGIQA trainers/clip_agiqa.py, train.py, the
README command; Dassl.pytorch dassl/engine/trainer.py, dassl/optim, dassl/utils/torchtools.py),
re-written here with the same torch objects (the Dassl optimiser, scheduler and save from the test
kit, ``pyiqa_uniqa.testing.dassl_checkpoints``):

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
import open_clip
import torch
import torch.nn.functional as F
from clip_agiqa_reference import image_features, prompt_embeddings, text_features
from torch import nn

from pyiqa_uniqa.testing.dassl_checkpoints import dassl_optimization, save_dassl_model

LEVELS = ('terrible', 'bad', 'poor', 'average', 'good', 'perfect')


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
    """Dassl's ``save_model``: every part, stored as epoch ``epoch + 1``."""
    for name, (module, optimizer, scheduler) in parts.items():
        save_dassl_model(directory, name, module, optimizer, scheduler, epoch + 1, val_result, model_name)


def train_official(directory, clip_sd, *, vision_heads, text_heads, n_ctx=16, ctx_init='', class_specific=False,
                   precision='fp16', max_epoch=3, batches=2, batch_size=4, image_size=224, seed=1):
    """Run the official loop for ``max_epoch`` epochs on random images; returns the parts' modules."""
    torch.manual_seed(seed)
    clip_sd = {k: v.float() for k, v in clip_sd.items()}
    dtype = torch.float16 if precision == 'fp16' else torch.float32
    prompt_learner = OfficialPromptLearner(clip_sd, n_ctx, ctx_init, class_specific, dtype)
    regression = official_regression(clip_sd['text_projection'].shape[1])
    parts = {'prompt_learner': (prompt_learner, *dassl_optimization(prompt_learner, max_epoch=max_epoch)),
             'regression': (regression, *dassl_optimization(regression, max_epoch=max_epoch))}
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
