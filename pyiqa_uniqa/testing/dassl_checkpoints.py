"""Checkpoints written exactly as Dassl (the trainer of CoOp and the official CLIP-AGIQA) writes them.

Dassl's ``TrainerX.save_model`` saves, per model part, ``{'state_dict', 'epoch', 'optimizer',
'scheduler', 'val_result'}`` to ``<dir>/<part>/model.pth.tar-<epoch>`` (``dassl/engine/trainer.py``,
``dassl/utils/torchtools.py::save_checkpoint``). ``'scheduler'`` is the state dict of a warm-up
scheduler (``dassl/optim/lr_scheduler.py``), and that state holds the *object* it hands over to, a
``CosineAnnealingLR`` with its ``SGD`` optimizer: such files are not plain tensors, and
``torch.load(weights_only=True)`` refuses them. The classes below mirror Dassl's (same names, same
structure); ``verbose`` is left out because current torch no longer takes it.
"""
from collections import OrderedDict
from pathlib import Path

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler


class _BaseWarmupScheduler(LRScheduler):

    def __init__(self, optimizer, successor, warmup_epoch, last_epoch=-1):
        self.successor = successor
        self.warmup_epoch = warmup_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        raise NotImplementedError

    def step(self, epoch=None):
        if self.last_epoch >= self.warmup_epoch:
            self.successor.step(epoch)
            self._last_lr = self.successor.get_last_lr()
        else:
            super().step(epoch)


class ConstantWarmupScheduler(_BaseWarmupScheduler):

    def __init__(self, optimizer, successor, warmup_epoch, cons_lr, last_epoch=-1):
        self.cons_lr = cons_lr
        super().__init__(optimizer, successor, warmup_epoch, last_epoch)

    def get_lr(self):
        if self.last_epoch >= self.warmup_epoch:
            return self.successor.get_last_lr()
        return [self.cons_lr for _ in self.base_lrs]


def dassl_optimization(module, lr=0.002, max_epoch=10, warmup_epoch=1, warmup_lr=1e-5):
    """SGD and the constant-warm-up cosine schedule of CoOp's configs (Dassl's ``build_lr_scheduler``)."""
    optimizer = torch.optim.SGD([p for p in module.parameters() if p.requires_grad], lr=lr, momentum=0.9,
                                weight_decay=5e-4)
    cosine = CosineAnnealingLR(optimizer, float(max_epoch))
    return optimizer, ConstantWarmupScheduler(optimizer, cosine, warmup_epoch, warmup_lr)


def save_dassl_model(directory, name, module, optimizer, scheduler, epoch, val_result=None, model_name=''):
    """Dassl's ``save_model`` + ``save_checkpoint`` for one part; returns the checkpoint's path.
    ``model_name='model-best.pth.tar'`` is how Dassl saves the best validation epoch."""
    state_dict = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                             for k, v in module.state_dict().items())
    folder = Path(directory) / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (model_name or f'model.pth.tar-{epoch}')
    torch.save({'state_dict': state_dict, 'epoch': epoch, 'optimizer': optimizer.state_dict(),
                'scheduler': scheduler.state_dict(), 'val_result': val_result}, path)
    (folder / 'checkpoint').write_text(f'{path.name}\n')
    return path


def write_dassl_checkpoint(directory, name, module, epochs=2):
    """Train ``module`` for ``epochs`` one-step epochs under Dassl's schedule and save it as Dassl does."""
    optimizer, scheduler = dassl_optimization(module)
    for _ in range(epochs):
        loss = sum(p.float().square().sum() for p in module.parameters() if p.requires_grad)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    return save_dassl_model(directory, name, module, optimizer, scheduler, epochs)
