"""Shards split a long job's items disjointly and completely; torchrun picks the shard."""
import pytest

from pyiqa_uniqa.sharding import parse_shard, shard_from_environment, shard_of


def test_shards_partition_the_listing():
    paths = [f'img_{i:03d}.png' for i in range(103)]
    shards = [shard_of(paths, i, 4) for i in range(4)]
    assert sorted(p for s in shards for p in s) == paths  # nothing lost, nothing twice
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert parse_shard('3/4') == (3, 4)
    for bad in ('4/4', '-1/2', 'a/b', '1'):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_torchrun_rank_picks_the_shard(monkeypatch):
    monkeypatch.setenv('RANK', '2')
    monkeypatch.setenv('WORLD_SIZE', '4')
    assert shard_from_environment(None) == (2, 4)
    with pytest.raises(ValueError, match='both split the work'):
        shard_from_environment('0/2')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('RANK', '0')
    assert shard_from_environment('1/3') == (1, 3)
