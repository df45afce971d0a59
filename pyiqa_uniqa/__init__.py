"""pyiqa-uniqa: vision-language image-quality models (UniQA, ATTIQA, DepictQA-style) for pyiqa.

Importing this package is cheap and torch-free: it only arranges for the metric names in
``configs.py`` to appear in pyiqa's ``DEFAULT_CONFIGS`` (now, or when pyiqa is imported).
"""
from pyiqa_uniqa.hook import install as _install_hook

__version__ = '0.1.0'

_install_hook()
