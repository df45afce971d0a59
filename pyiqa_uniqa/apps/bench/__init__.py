"""Benchmark tables (``pyiqa-uniqa eval``) and speed/memory reports (``pyiqa-uniqa bench``).

- ``eval/``: correlation of metrics with MOS on pyiqa datasets (datasets, splits, dataset scoring,
  correlations, reports, published numbers);
- ``speed/``: latency, throughput and memory of metrics on the same images;
- here, what every metric command shares at start-up: the ``name:key=value`` metric specs
  (``metric_specs``), their options and the device checked before any model loads
  (``metric_checks``), pyiqa's own downloads made one-line errors (``pyiqa_downloads``), the
  classification of failures (``failures``) and the command preamble that ties them together with the
  library's offline check (``command_setup``, ``pyiqa_uniqa.network``). ``score``
  (``pyiqa_uniqa.apps.scoring``) starts the same way.

Modules import torch and pyiqa only inside functions that need them, so the CLI parsers stay fast.
This file only declares names (torch-free).
"""
