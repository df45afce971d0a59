"""Benchmark tables (``pyiqa-uniqa eval``) and speed/memory reports (``pyiqa-uniqa bench``).

Modules import torch and pyiqa only inside functions that need them, so the CLI parsers stay fast.
"""
