"""The defaults every metric command uses when the user gives no --threads, --num-workers, --batch-size."""
import pyiqa
import pytest
import torch

from pyiqa_uniqa.apps import run_defaults as rule
from pyiqa_uniqa.apps.run_defaults import (RunDefaults, default_batch_size, free_usable_cores, metric_kind,
                                           run_defaults, settle, usable_cores)


@pytest.mark.parametrize('kind, free, device, expected', [
    # on a CPU every free core computes; a reader only where it does not take a core from the threads
    ('pixel', 1, 'cpu', RunDefaults(threads=1, readers=0, batch_size=1)),
    ('pixel', 2, 'cpu', RunDefaults(threads=2, readers=0, batch_size=1)),
    ('pixel', 16, 'cpu', RunDefaults(threads=16, readers=1, batch_size=1)),
    ('tower', 2, 'cpu', RunDefaults(threads=2, readers=0, batch_size=1)),
    ('tower', 8, 'cpu', RunDefaults(threads=8, readers=1, batch_size=1)),
    ('language', 4, 'cpu', RunDefaults(threads=4, readers=0, batch_size=1)),
    # on a GPU the CPU only reads
    ('tower', 16, 'cuda', RunDefaults(threads=1, readers=8, batch_size=32)),
    ('pixel', 4, 'cuda:1', RunDefaults(threads=1, readers=3, batch_size=32)),
    ('pixel', 1, 'cuda', RunDefaults(threads=1, readers=1, batch_size=32)),
    ('language', 16, 'cuda', RunDefaults(threads=1, readers=8, batch_size=1)),
])
def test_the_rule_by_kind_free_cores_and_device(kind, free, device, expected):
    assert run_defaults(kind, device, free) == expected


def test_the_batch_size_needs_no_core_count(monkeypatch):
    monkeypatch.setattr(rule, 'free_cores', lambda usable, cpus=None: pytest.fail('counted free cores'))
    cases = [('tower', 'cuda'), ('language', 'cuda'), ('pixel', 'cpu')]
    assert [default_batch_size(kind, device) for kind, device in cases] == [32, 1, 1]
    with pytest.raises(ValueError, match='kind must be one of'):
        default_batch_size('huge')


def test_the_setting_reads_as_score_prints_it():
    assert str(RunDefaults(2, 0, 1)) == '2 threads, 0 readers, batch 1'
    assert str(RunDefaults(1, 1, 32)) == '1 thread, 1 reader, batch 32'


def test_a_single_image_gets_no_reader_and_free_cores_are_counted_when_not_given():
    assert run_defaults('pixel', 'cpu', free=4, images=1).readers == 0
    assert 1 <= run_defaults('tower', 'cpu', images=5).threads <= usable_cores()
    with pytest.raises(ValueError, match='kind must be one of'):
        run_defaults('huge')


def test_torchrun_ranks_on_one_machine_share_its_cores_without_counting_each_other(monkeypatch):
    monkeypatch.setenv('LOCAL_WORLD_SIZE', str(usable_cores() * 2))
    assert usable_cores() == 1  # never below one
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '2')
    monkeypatch.setattr(rule, 'free_cores', lambda usable, cpus=None: pytest.fail('ranks counted as load'))
    assert free_usable_cores() == usable_cores()


def test_metric_kinds_from_the_built_network(tiny_clip_checkpoint):
    assert metric_kind(pyiqa.create_metric('piqe', device='cpu')) == 'pixel'
    assert metric_kind(pyiqa.create_metric('psnr', device='cpu')) == 'pixel'
    uniqa = pyiqa.create_metric('uniqa', device='cpu', model_name='tiny-clip-quickgelu',
                                backbone_weights=tiny_clip_checkpoint)
    assert metric_kind(uniqa, 'uniqa') == 'tower'
    assert metric_kind(uniqa, 'depictqa-wild') == 'language'  # by name, before the network is asked


def test_settle_keeps_what_the_user_gave_and_applies_the_threads():
    before = torch.get_num_threads()
    try:
        chosen = settle('tower', 'cpu', threads=None, readers=0, batch_size=3, images=10)
        assert chosen.readers == 0 and chosen.batch_size == 3 and torch.get_num_threads() == chosen.threads >= 1
        chosen = settle('tower', 'cpu', threads=1, readers=None, batch_size=None, images=10)
        assert chosen.threads == 1 and chosen.batch_size == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_nothing_is_counted_when_the_user_gave_everything(monkeypatch):
    monkeypatch.setattr(rule, 'free_cores', lambda usable, cpus=None: pytest.fail('counted free cores'))
    before = torch.get_num_threads()
    try:
        assert settle('pixel', 'cpu', threads=1, readers=2, batch_size=4) == RunDefaults(1, 2, 4)
    finally:
        torch.set_num_threads(before)
