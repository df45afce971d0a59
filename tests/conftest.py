"""Shared fixtures: checkpoints written by the tests themselves in the real formats (offline)."""
import os

import pytest

# Nothing may try the network: hub libraries fail fast instead of retrying for a minute.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')


@pytest.fixture(autouse=True, scope='session')
def one_torch_thread():
    """The test models are tiny: on a 2-core machine more intra-op threads only add contention."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def tiny_clip_checkpoint(tmp_path_factory):
    """A random flat OpenAI-layout checkpoint of the tiny geometry ('tiny-clip-quickgelu')."""
    from pyiqa_uniqa.testing.official_checkpoints import write_official_clip_checkpoint
    return write_official_clip_checkpoint(tmp_path_factory.mktemp('clip') / 'tiny_clip.pt', 'tiny')


@pytest.fixture(scope='session')
def vitb16_checkpoint(tmp_path_factory):
    """A random checkpoint in the exact layout of the official UniQA_weight.pt (ViT-B/16)."""
    from pyiqa_uniqa.testing.official_checkpoints import write_official_clip_checkpoint
    return write_official_clip_checkpoint(tmp_path_factory.mktemp('clip') / 'UniQA_weight.pt', 'ViT-B-16')
