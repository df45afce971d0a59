"""Offline test kit: tiny model geometries and checkpoints written in the real formats.

Nothing here downloads. Tests and the demo use it in place of the real weights.
"""
from pyiqa_uniqa.testing.official_checkpoints import write_official_clip_checkpoint

__all__ = ['write_official_clip_checkpoint']
