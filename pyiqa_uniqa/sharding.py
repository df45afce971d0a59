"""Splitting a long job (captioning, pseudo-labelling) across processes.

A shard is ``i/n`` (0-based): every n-th item from the i-th, so shards are disjoint, cover every
item and differ in size by at most one. Under torchrun the rank and world size pick the shard.
"""
import os

from pyiqa_uniqa.errors import InvalidOptionError


class ShardError(InvalidOptionError):
    """A --shard value that is not i/n with 0 <= i < n, or --shard under torchrun."""


def parse_shard(text):
    """'i/n' -> (i, n) with n >= 1 and 0 <= i < n."""
    try:
        index, count = (int(part) for part in str(text).split('/'))
    except ValueError:
        raise ShardError(f'--shard must look like i/n (e.g. 0/4), not {text!r}.') from None
    if count < 1 or not 0 <= index < count:
        raise ShardError(f'--shard {text}: need n >= 1 and 0 <= i < n (shards are numbered from 0).')
    return index, count


def shard_of(items, index, count):
    return items[index::count]


def shard_from_environment(shard_text):
    """(index, count) from --shard, else torchrun's RANK/WORLD_SIZE, else (0, 1)."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if shard_text and world > 1:
        raise ShardError('--shard and torchrun (WORLD_SIZE > 1) both split the work; use one of them.')
    if shard_text:
        return parse_shard(shard_text)
    return int(os.environ.get('RANK', '0')), world
