"""Every family's ``score`` in fp32, fp16 and bf16 against its model-only floor: images/s and peak memory.

    python -m pyiqa_uniqa.apps.bench.speed.gpu_report                # on a GPU: real geometry, random weights
    python -m pyiqa_uniqa.apps.bench.speed.gpu_report --reduced      # tiny models on the CPU (what CI runs)
    python -m pyiqa_uniqa.apps.bench.speed.gpu_report -m "uniqa:backbone_weights=/w/UniQA_weight.pt" --images 512

For each metric and precision:
- **end to end**: ``score``'s engine (``scoring.engine.score_rows``) on a folder of JPEGs: reader processes
  decode, the metric runs in the batches ``score`` makes, results are collected; the figure is its scoring
  loop (images/s; the model is created before the loop starts);
- **floor**: the same metric called on the same images already decoded, batched and on the device: what
  the model alone can do;
- **end to end / floor**: the share of the floor the pipeline keeps (the target is >= 0.80, decoding
  included);
- **peak memory**: ``torch.cuda.max_memory_allocated`` on a GPU, the process's peak RSS on a CPU.
The two measurements take turns for ``--rounds`` rounds (``alternate.py``); figures are medians.

Weights cannot be assumed on the machine that runs it, so the default metrics have each family's real
geometry with random weights (speed and memory do not depend on the values), except DepictQA, whose
language model has no offline stand-in of its real size: it runs as the tiny preset unless ``-m`` names
a real one. ``--reduced`` swaps in tiny models and fewer images, so the whole path runs in CI in
seconds (``tests/apps/bench/speed/test_gpu_report.py``) and cannot rot before a GPU is at hand.
"""
import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pyiqa_uniqa.apps.bench.speed.alternate import alternate, spread

FULL_METRICS = ('uniqa:backbone_weights=random',
                'attiqa:backbone_weights=random,weights_file=null',
                'clip-agiqa:backbone_weights=random,weights_file=null',
                'depictqa:model_config=tiny,pretrained_model_path=random')
REDUCED_METRICS = ('uniqa:model_name=tiny-clip-quickgelu,backbone_weights=random,num_crops=2',
                   'attiqa:backbone=test_resnet,head_hidden=16,backbone_weights=random,weights_file=null',
                   'clip-agiqa:model_name=tiny-clip-quickgelu,backbone_weights=random,weights_file=null',
                   'depictqa:model_config=tiny,pretrained_model_path=random')
PRECISIONS = ('fp32', 'fp16', 'bf16')
TARGET = 0.80


@dataclass
class Row:
    metric: str
    precision: str
    end_to_end: object = None  # Spread of images/s
    floor: object = None  # Spread of images/s
    peak_mib: float = math.nan
    note: str = ''

    @property
    def ratio(self):
        return self.end_to_end.median / self.floor.median if self.end_to_end and self.floor else math.nan


class PeakMemory:
    """Peak memory of what runs between ``reset`` and ``peak_mib`` (GPU allocator, else process RSS)."""

    def __init__(self, device):
        self.gpu = str(device).startswith('cuda')

    def reset(self):
        import torch

        from pyiqa_uniqa.apps.bench.speed.memory import release_freed_memory, reset_peak_rss
        if self.gpu:
            torch.cuda.reset_peak_memory_stats()
        else:
            release_freed_memory()
            reset_peak_rss()

    def peak_mib(self):
        import torch

        from pyiqa_uniqa.apps.bench.speed.memory import peak_rss_mib
        return torch.cuda.max_memory_allocated() / 2 ** 20 if self.gpu else peak_rss_mib()


def _synchronize(device):
    import torch
    if str(device).startswith('cuda'):
        torch.cuda.synchronize(device)


def end_to_end(rows, column, device, precision, memory):
    """Images/s of score's loop over ``rows`` (reading included) and its peak memory."""
    from pyiqa_uniqa.apps.scoring.engine import ScoreSettings, score_rows

    memory.reset()
    run = score_rows(rows, [column], ScoreSettings(device=device, precision=precision, progress=False))
    summary = run.summaries[0]
    if summary.failed:
        failed = next(r for r in run.records[column.id].values() if 'error' in r)
        raise RuntimeError(f'{summary.failed} images failed, e.g. {failed["path"]}: {failed["error"]}')
    return summary.images_per_second, memory.peak_mib()


class Floor:
    """The metric alone on the images already decoded, batched as ``score`` batches them, on the device."""

    def __init__(self, column, rows, device):
        import pyiqa

        from pyiqa_uniqa.apps.run_defaults import default_batch_size, metric_kind
        from pyiqa_uniqa.apps.scoring.batching import collate_by_size
        from pyiqa_uniqa.apps.scoring.engine import read_like_pyiqa
        from pyiqa_uniqa.data.pyiqa_reading import is_ours

        self.device, self.count = device, len(rows)
        self.metric = pyiqa.create_metric(column.spec.name, device=device, **column.spec.options)
        batch_size = default_batch_size(metric_kind(self.metric, column.spec.name), device)
        ours = is_ours(type(self.metric.net))
        records = [{'index': i, 'item': {'img': read_like_pyiqa(row.path, ours)}} for i, row in enumerate(rows)]
        self.batches = [group['img'].to(device) for start in range(0, len(records), batch_size)
                        for group in collate_by_size(records[start:start + batch_size])[0]]

    def images_per_second(self):
        import torch

        _synchronize(self.device)
        start = time.perf_counter()
        with torch.no_grad():
            for images in self.batches:
                self.metric(images)
        _synchronize(self.device)
        return self.count / (time.perf_counter() - start)


def measure(spec_text, precision, rows, device, rounds):
    """One ``Row``: end to end and floor, taking turns (a warm-up pass of each first)."""
    from pyiqa_uniqa.apps.scoring.engine import resolve_columns

    row = Row(spec_text.split(':')[0], precision)
    try:
        column = resolve_columns([spec_text], precision)[0]
        memory = PeakMemory(device)
        floor = Floor(column, rows, device)
        floor.images_per_second()  # warm-up: lazy initialisation, kernel selection
        peaks = []

        def one(kind):
            if kind == 'floor':
                return floor.images_per_second()
            rate, peak = end_to_end(rows, column, device, precision, memory)
            peaks.append(peak)
            return rate

        runs = alternate(['end to end', 'floor'], rounds, one)
        row.end_to_end, row.floor = spread(runs['end to end']), spread(runs['floor'])
        row.peak_mib = max(peaks)
    except Exception as err:  # noqa: BLE001 - one metric's failure is its row's note; the others still run
        row.note = f'{type(err).__name__}: {err}'.splitlines()[0][:200]
    return row


def report(rows, context):
    head = ['metric', 'precision', 'end to end (img/s)', 'floor (img/s)', 'end to end / floor', 'peak memory (MiB)',
            'note']
    lines = [context, '', '| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
    for r in rows:
        ratio = '–' if math.isnan(r.ratio) else f'{r.ratio:.2f}' + (' (below target)' if r.ratio < TARGET else '')
        rates = [f'{rate:.3g}' if rate else '–' for rate in (r.end_to_end, r.floor)]
        lines.append('| ' + ' | '.join([r.metric, r.precision, *rates, ratio,
                                        '–' if math.isnan(r.peak_mib) else f'{r.peak_mib:.0f}', r.note]) + ' |')
    lines += ['', f'Medians (lowest–highest) of the rounds. Target: end to end >= {TARGET:.0%} of the floor.']
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-m', '--metrics', nargs='+', help='metric specs (default: every family, see the module doc)')
    parser.add_argument('--device', help='default: cuda when available, else cpu')
    parser.add_argument('--precisions', nargs='+', choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument('--images', type=int, help='JPEGs from the bundled photos (default 256; 4 with --reduced)')
    parser.add_argument('--rounds', type=int, help='rounds of the two measurements (default 3; 1 with --reduced)')
    parser.add_argument('--reduced', action='store_true', help='tiny models and few images: checks the path, in CI')
    args = parser.parse_args(argv)
    import torch

    from pyiqa_uniqa.network import offline_mode
    offline_mode(True)  # random or local weights only: never wait for the Hub
    import pyiqa_uniqa  # noqa: F401 - the plugin's metric names
    from pyiqa_uniqa.apps.bench.speed.pipeline import write_photo_folder
    from pyiqa_uniqa.apps.scoring.inputs import find_images

    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    metrics = args.metrics or (REDUCED_METRICS if args.reduced else FULL_METRICS)
    count = args.images or (4 if args.reduced else 256)
    rounds = args.rounds or (1 if args.reduced else 3)
    with tempfile.TemporaryDirectory() as work:
        rows = find_images(write_photo_folder(Path(work) / 'photos', count)).rows
        name = torch.cuda.get_device_name(device) if device.startswith('cuda') else 'CPU'
        context = (f'{count} JPEGs (the bundled photos, mixed sizes); {device} ({name}); torch {torch.__version__}; '
                   f'{rounds} round(s); score\'s default batch size, readers and threads.')
        results = []
        for spec_text in metrics:
            for precision in args.precisions:
                print(f'gpu_report: {spec_text} in {precision} ...', file=sys.stderr, flush=True)
                results.append(measure(spec_text, precision, rows, device, rounds))
    print(report(results, context))
    return 0 if all(not r.note for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
