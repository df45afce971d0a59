"""Hold a frozen backbone inside a network without putting it in checkpoints or optimizers.

A frozen CLIP is large and never changes, so a training checkpoint must not carry it, the
optimizer must not see it, and pyiqa must not warn once per frozen parameter. Keeping it out of
``_modules`` gives all of that; overriding ``_apply`` keeps ``.to()``, ``.cuda()``, ``.half()``
moving it along with the trainable parts, and ``train()`` never switches it out of eval mode.
"""
import torch.nn as nn


class FrozenTowerModule(nn.Module):

    def hold_frozen(self, name, module):
        """Store ``module`` frozen under ``self.<name>``, outside state_dict() and parameters()."""
        module.eval().requires_grad_(False)
        frozen = self.__dict__.setdefault('_frozen_towers', {})
        frozen[name] = module
        object.__setattr__(self, name, module)  # plain attribute: nn.Module does not register it
        return module

    def frozen_towers(self):
        return dict(self.__dict__.get('_frozen_towers', {}))

    def _apply(self, fn, *args, **kwargs):
        for name, tower in self.frozen_towers().items():
            tower._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)
