"""Frozen features kept instead of recomputed: exactly across validation passes (``FrozenFeatureCache``),
and, as an option that changes training, across training epochs (``TrainingFeatureReuse``).

A frozen tower gives the same features for the same input every time, yet pyiqa re-encodes every
validation image at every validation pass: in the official UniQA KonIQ recipe that is more than
half of an adapter run's compute. ``FrozenFeatureCache`` keeps, per input, what the network's
``frozen_features`` returned (the frozen-feature protocol of ``pyiqa_uniqa.backbones.frozen``), so
later passes run only the trainable part.

Keys (chosen so that stale features can never be used):

- the input: a BLAKE2 digest of the tensor that reaches the network (its bytes, shape and dtype),
  after the dataset's loading and transforms. A changed file, a changed transform or a random
  crop all give another digest; nothing about paths or modification times is trusted.
- the network's ``frozen_features_key()``: the options the features depend on (mode, crops,
  seeds, precision). A change empties the cache.
- the frozen weights: for every tensor of the frozen towers, every frozen registered parameter and
  every registered buffer, its identity, storage address and in-place version counter. Loading
  weights (``copy_`` bumps the version), moving the network or replacing a tensor changes it, and
  empties the cache; so does a training step through a frozen but registered BatchNorm (its
  ``num_batches_tracked`` counts up; the running statistics themselves change without a version).

A batch is looked up whole: when any of its images is missing, the whole batch goes through the
tower, as it would without a cache, so the numbers are those of an uncached run bit for bit.
Entries live on the CPU (a UniQA image with ten crops is 20 KiB) up to ``max_mib``; once full,
nothing more is added and the rest is encoded every pass (for a validation set seen in a fixed
order this keeps the most hits, where evicting the oldest would keep none).
"""
import hashlib
import random

import torch

from pyiqa_uniqa.backbones.frozen import FrozenTowerModule, tensor_state


def input_digest(image):
    """A key for one input tensor: its shape, dtype and a BLAKE2 digest of its bytes."""
    data = image.detach().contiguous().cpu()
    digest = hashlib.blake2b(data.view(torch.uint8).numpy().tobytes(), digest_size=16).hexdigest()
    return tuple(data.shape), str(data.dtype), digest


def input_digests(images):
    """``input_digest`` of each image of a batch, copied to the CPU once for the whole batch."""
    return [input_digest(image) for image in images.detach().contiguous().cpu()]


def frozen_weights_fingerprint(net):
    """Identity, storage and in-place version of every frozen tensor of ``net`` (see module doc)."""
    towers = net.frozen_towers().values() if isinstance(net, FrozenTowerModule) else ()
    tensors = [t for tower in towers for t in (*tower.parameters(), *tower.buffers())]
    tensors += [p for p in net.parameters() if not p.requires_grad] + list(net.buffers())
    return tensor_state(tensors)


class FrozenFeatureCache:

    def __init__(self, max_mib=1024):
        self.max_bytes = int(max_mib * 2 ** 20)
        self.entries = {}
        self.bytes = 0
        self.context = None
        self.hits = self.misses = self.not_kept = 0

    def clear(self):
        self.entries.clear()
        self.bytes = 0

    def features(self, net, images):
        """``net.frozen_features(images)``, from the cache when every image of the batch is in it."""
        context = (net.frozen_features_key(), frozen_weights_fingerprint(net))
        if context != self.context:
            self.clear()
            self.context = context
        keys = input_digests(images)
        if all(key in self.entries for key in keys):
            self.hits += len(keys)
            return torch.stack([self.entries[key] for key in keys]).to(images.device)
        self.misses += len(keys)
        features = net.frozen_features(images)
        for key, feature in zip(keys, features):
            size = feature.numel() * feature.element_size()
            if key in self.entries:
                continue
            if self.bytes + size > self.max_bytes:
                self.not_kept += 1
                continue
            self.entries[key] = feature.detach().to('cpu', copy=True)
            self.bytes += size
        return features

    def summary(self):
        full = f', full: {self.not_kept} encodings not kept' if self.not_kept else ''
        return (f'frozen-feature cache: {len(self.entries)} inputs in {self.bytes / 2 ** 20:.2f} MiB '
                f'(limit {self.max_bytes / 2 ** 20:g} MiB{full}); {self.hits} reused, {self.misses} encoded so far')


class TrainingFeatureReuse:
    """K augmented views per training image, each encoded once, then drawn at random.

    Not exact, and off by default (``train.feature_reuse_views``): a training image's frozen
    features come from a fresh random augmentation only until it has ``views`` of them; from then
    on one of those is drawn (seeded) instead of encoding the new augmentation, so the augmentation
    distribution shrinks to K samples per image. Entries are keyed by the image's path (the
    training batch's ``img_path``) under the same frozen context as ``FrozenFeatureCache``; a
    batch is served from stored views only when every image in it has K, otherwise the whole
    batch is encoded (and its new views kept where an image still needs them).
    """

    def __init__(self, views, seed=0):
        self.views = views
        self.entries = {}
        self.context = None
        self.generator = random.Random(seed)
        self.encoded = self.reused = 0

    def features(self, net, images, keys):
        context = (net.frozen_features_key(), frozen_weights_fingerprint(net))
        if context != self.context:
            self.entries.clear()
            self.context = context
        if all(len(self.entries.get(key, ())) >= self.views for key in keys):
            self.reused += len(keys)
            drawn = [self.entries[key][self.generator.randrange(self.views)] for key in keys]
            return torch.stack(drawn).to(images.device)
        self.encoded += len(keys)
        features = net.frozen_features(images)
        for key, feature in zip(keys, features):
            stored = self.entries.setdefault(key, [])
            if len(stored) < self.views:
                stored.append(feature.detach().to('cpu', copy=True))
        return features

    def summary(self):
        size = sum(f.numel() * f.element_size() for views in self.entries.values() for f in views)
        return (f'training-feature reuse: {len(self.entries)} images x up to {self.views} views in '
                f'{size / 2 ** 20:.2f} MiB; {self.encoded} encoded, {self.reused} drawn from stored views')
