"""Training model for CLIP-AGIQA: ``FrozenBackboneIQAModel`` that also knows the official schedule.

pyiqa builds schedulers by name from ``torch.optim.lr_scheduler`` only; the official warm-up +
cosine schedule (``scheduler: {type: WarmupCosineLR, T_max, warmup_epochs, warmup_lr}``) is ours.
"""
from pyiqa_uniqa.clip_agiqa.schedule import WarmupCosineLR
from pyiqa_uniqa.training.base_model import FrozenBackboneIQAModel


class CLIPAGIQAModel(FrozenBackboneIQAModel):

    def setup_schedulers(self):
        settings = dict(self.opt['train']['scheduler'])
        if settings.pop('type') != 'WarmupCosineLR':
            return super().setup_schedulers()
        self.schedulers.extend(WarmupCosineLR(optimizer, **settings) for optimizer in self.optimizers)
