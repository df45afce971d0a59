"""ATTIQA (arXiv 2406.01020): CLIP-guided attribute pseudo-labels, attribute-aware pre-training,
MOS fine-tuning.

The paper body was not reachable; every unknown is our documented choice (see the README section).
Modules are imported lazily by pyiqa's registries and by the ``pyiqa-uniqa`` commands.
"""
