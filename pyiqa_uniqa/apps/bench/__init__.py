"""Benchmark tables (``pyiqa-uniqa eval``) and speed/memory reports (``pyiqa-uniqa bench``).

- ``eval/``: correlation of metrics with MOS on pyiqa datasets (datasets, splits, dataset scoring,
  correlations, reports, published numbers);
- ``speed/``: latency, throughput and memory of metrics on the same images, ``score`` against pyiqa's
  CLI, the default-choosing table and the GPU report.

Both start like every metric command (``pyiqa_uniqa.apps.metrics``). Modules import torch and pyiqa
only inside functions that need them, so the CLI parsers stay fast. This file is torch-free.
"""
