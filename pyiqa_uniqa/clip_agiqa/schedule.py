"""The official CLIP-AGIQA learning-rate schedule: constant warm-up epochs, then cosine.

Dassl (which the official trainer runs on) wraps ``CosineAnnealingLR(optimizer, T_max=max_epoch)``
in a constant warm-up: epochs ``0 .. warmup_epochs - 1`` at ``warmup_lr`` (official: one epoch at
1e-5), then the cosine restarted from the base lr, epoch ``e`` at step ``e - warmup_epochs``. This
is that schedule in closed form, so a resumed run (pyiqa stores ``last_epoch``) continues exactly.
pyiqa steps schedulers once per epoch.
"""
import math

from torch.optim.lr_scheduler import LRScheduler


class WarmupCosineLR(LRScheduler):

    def __init__(self, optimizer, T_max, warmup_epochs=1, warmup_lr=1e-5, eta_min=0.0, last_epoch=-1):
        self.T_max, self.warmup_epochs, self.warmup_lr, self.eta_min = T_max, warmup_epochs, warmup_lr, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        step = self.last_epoch - self.warmup_epochs
        if step < 0:
            return [self.warmup_lr for _ in self.base_lrs]
        cosine = (1 + math.cos(math.pi * step / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]
