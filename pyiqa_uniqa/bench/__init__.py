"""Benchmark tables (``pyiqa-uniqa eval``) and speed/memory reports (``pyiqa-uniqa bench``).

Modules import torch and pyiqa only inside functions that need them, so the CLI parsers stay fast.
This file only declares names (torch-free).
"""

COMMANDS = {
    'eval': ('pyiqa_uniqa.bench.eval_command', 'SRCC/PLCC/KRCC/RMSE tables of metrics on IQA datasets'),
    'bench': ('pyiqa_uniqa.bench.bench_command', 'latency, throughput and memory of metrics on the same images'),
}
