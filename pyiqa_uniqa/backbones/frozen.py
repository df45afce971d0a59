"""Frozen towers inside a trainable network, and the protocol that lets their features be cached.

``FrozenTowerModule`` holds a frozen backbone without putting it in checkpoints or optimizers.
A frozen CLIP is large and never changes, so a training checkpoint must not carry it, the
optimizer must not see it, and pyiqa must not warn once per frozen parameter. Keeping it out of
``_modules`` gives all of that; overriding ``_apply`` keeps ``.to()``, ``.cuda()``, ``.half()``
moving it along with the trainable parts, and ``train()`` never switches it out of eval mode.

DataParallel (what pyiqa wraps a network in with ``num_gpu`` > 1 and no launcher) copies the
registered parameters to every GPU for each forward, but a replica would share the towers of the
original, on the first GPU. So a replica drops the towers and finds them on first use, on its own
device: the original keeps one copy per device, made once and made again only when the tower's
tensors change (their storage or in-place version), so each forward broadcasts only the trainable
parts. ``torchrun`` (DistributedDataParallel, one process per GPU) needs none of this and is faster.

The frozen-feature protocol
---------------------------
A network whose first part is frozen splits its forward there, so that a trainer can keep the
frozen part's output instead of recomputing it (``FrozenBackboneIQAModel``'s validation cache)::

    frozen_features(images) -> Tensor [B, V, ...]
        Everything before the first trainable part, for each of the V views the network scores
        in its current mode. Training mode: the image as given (V = 1). Eval mode: every test-time
        view, in a fixed order; UniQA's ten seeded 224-px crops give V = 10, CLIP-AGIQA's centre
        crop V = 1. V and the views depend only on the image size and the options in
        ``frozen_features_key``, never on the rest of the batch. Where views repeat (an image
        exactly the crop size gives ten equal crops), the tower may encode each distinct view
        once, but the result still has all V rows, so that the reduction over views is a plain
        mean. A graph is built only when the caller wants gradients w.r.t. the image
        (``images.requires_grad``, the metric used as a loss).
    forward_from_features(features [B, V, ...]) -> scores [B, 1]
        The rest: the trainable parts on every view, then the mean over views.
    frozen_features_key() -> hashable, or None
        Everything besides the image and the frozen weights that ``frozen_features`` depends on
        (mode, crop size, crop mode, number of views, crop seed, precision...). None while the
        features are not frozen (e.g. a backbone being fine-tuned): nothing may then be cached.

``forward(images)`` is ``forward_from_features(frozen_features(images))`` in both modes; networks
implement ``forward`` that way, so the cached and the uncached paths run the same code and give
the same numbers. ``has_frozen_features(net)`` says whether a network takes part.
"""
import copy

import torch.nn as nn

FROZEN_FEATURE_METHODS = ('frozen_features', 'forward_from_features', 'frozen_features_key')


def has_frozen_features(net):
    """True when ``net`` implements the protocol and its features are frozen right now."""
    return all(callable(getattr(net, name, None)) for name in FROZEN_FEATURE_METHODS) \
        and net.frozen_features_key() is not None


class FrozenTowerModule(nn.Module):

    def hold_frozen(self, name, module):
        """Store ``module`` frozen under ``self.<name>``, outside state_dict() and parameters()."""
        module.eval().requires_grad_(False)
        frozen = self.__dict__.setdefault('_frozen_towers', {})
        frozen[name] = module
        object.__setattr__(self, name, module)  # plain attribute: nn.Module does not register it
        return module

    def frozen_towers(self):
        return {name: getattr(self, name) for name in self.__dict__.get('_frozen_towers', {})}

    def _apply(self, fn, *args, **kwargs):
        for tower in self.frozen_towers().values():
            tower._apply(fn, *args, **kwargs)
        self.__dict__.pop('_tower_copies', None)  # copies on other devices follow the new state
        return super()._apply(fn, *args, **kwargs)

    # -- DataParallel ---------------------------------------------------------------------------

    def _replicate_for_data_parallel(self):
        replica = super()._replicate_for_data_parallel()
        for name in self.__dict__.get('_frozen_towers', {}):
            del replica.__dict__[name]  # found on first use, on the replica's device (__getattr__)
        replica.__dict__['_tower_source'] = self
        return replica

    def __getattr__(self, name):
        source = self.__dict__.get('_tower_source')
        if source is not None and name in source.__dict__['_frozen_towers']:
            tower = source.tower_on(name, self._replica_device())
            self.__dict__[name] = tower
            return tower
        return super().__getattr__(name)

    def _replica_device(self):
        """Where DataParallel put this replica: the device of its first parameter or buffer."""
        for module in self.modules():
            tensors = (*module.__dict__.get('_former_parameters', {}).values(), *module._buffers.values())
            for tensor in tensors:
                if tensor is not None:
                    return tensor.device
        return None

    def tower_on(self, name, device):
        """The frozen tower ``name`` on ``device``: the tower itself where it is, else a copy kept
        per device and remade when the tower's tensors change."""
        tower = self.__dict__['_frozen_towers'][name]
        tensors = [*tower.parameters(), *tower.buffers()]
        if device is None or not tensors or tensors[0].device == device:
            return tower
        state = tensor_state(tensors)
        copies = self.__dict__.setdefault('_tower_copies', {})
        if (name, device) not in copies or copies[name, device][0] != state:
            copies[name, device] = (state, _copy_to(tower, device))
        return copies[name, device][1]


def tensor_state(tensors):
    """What a cache of results computed from ``tensors`` depends on: each tensor's identity, storage,
    in-place version counter, dtype and device. New weights, ``load_state_dict``, in-place edits and
    ``.to()`` all change it; nobody has to remember to invalidate."""
    return tuple((id(t), t.data_ptr(), t._version, t.dtype, t.device) for t in tensors)


def _copy_to(module, device):
    """A deep copy of a frozen ``module`` whose tensors are made directly on ``device`` (the
    original's device never holds a second copy)."""
    memo = {id(b): b.detach().to(device) for b in module.buffers()}
    memo.update({id(p): nn.Parameter(p.detach().to(device), requires_grad=False) for p in module.parameters()})
    return copy.deepcopy(module, memo)
