"""What every metric command (``score``, ``compare``, ``rank``, ``eval``, ``bench``, ``label``, ``app``,
``protocol``) shares at start-up, before any model loads: the ``name:key=value`` metric specs and their
configs (``metric_specs``), their options and the device checked against the constructors
(``metric_checks``), pyiqa's own downloads made one-line errors (``pyiqa_downloads``), the
classification of failures (``failures``), and the command preamble that ties them together with the
library's offline check (``command_setup``, ``pyiqa_uniqa.network``).

It imports no other application folder, so scoring and the benchmarks both build on it. Torch-free.
"""
