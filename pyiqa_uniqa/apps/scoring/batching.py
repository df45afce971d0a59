"""Batches of images that share a size, so real-world folders with mixed sizes still batch.

A loader batch is a list of records, ``{'index', 'item': {name: value}}`` or ``{'index', 'error'}``
(an image that could not be read). ``collate_by_size`` splits it into groups whose tensors have
equal shapes and collates each group as PyTorch's ``default_collate`` would, so a folder of
same-size images runs at the full batch size and a mixed one still works without padding or
resizing (which would change the scores). Failed records are handed back apart, with their reason.
"""
import torch
from torch.utils.data import default_collate


def _size_key(item):
    return tuple((name, tuple(value.shape)) for name, value in item.items() if torch.is_tensor(value))


def collate_by_size(records):
    """-> ``(groups, failures)``: each group is ``{name: batched tensor or list, 'index': [...]}``,
    failures are ``[(index, reason)]``; groups keep the order in which their first image came."""
    failures = [(r['index'], r['error']) for r in records if 'error' in r]
    groups = {}
    for record in records:
        if 'item' in record:
            groups.setdefault(_size_key(record['item']), []).append(record)
    collated = []
    for group in groups.values():
        items = [r['item'] for r in group]
        batch = default_collate([{k: v for k, v in item.items() if torch.is_tensor(v)} for item in items])
        batch.update({k: [item[k] for item in items] for k in items[0] if not torch.is_tensor(items[0][k])})
        batch['index'] = [r['index'] for r in group]
        collated.append(batch)
    return collated, failures
