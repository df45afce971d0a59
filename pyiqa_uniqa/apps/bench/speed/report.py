"""Write a bench run's table as ``bench.md`` and ``bench.csv``."""
import csv
import math
from dataclasses import asdict, fields

from pyiqa_uniqa.apps.metrics.failures import OK, shorten
from pyiqa_uniqa.apps.bench.speed.runner import BenchResult


def _fmt(value, digits=1):
    return '–' if value is None or math.isnan(value) else f'{value:.{digits}f}'


def markdown_table(results, settings, gpu=False):
    size = f'{settings.batch_size}×{settings.size}²'
    head = ['metric', 'mode', 'load (s)', 'latency (ms, median)', 'latency range (ms)']
    head += [] if gpu else ['CPU time (ms/img)']
    head += [f'throughput (img/s, batch {size})'] + ([] if gpu else ['throughput (img/CPU-s)'])
    head += ['model RSS (MiB)', 'peak RSS (MiB)'] + (['GPU peak (MiB)'] if gpu else [])
    lines = ['| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
    for r in results:
        if r.status != OK and math.isnan(r.load_s):
            lines.append(f'| {r.metric} | {r.status}: {shorten(r.message)} |' + ' |' * (len(head) - 2))
            continue
        row = [r.metric, r.mode, _fmt(r.load_s, 2), _fmt(r.latency_ms), f'{_fmt(r.latency_min_ms)}–{_fmt(r.latency_max_ms)}']
        row += [] if gpu else [_fmt(r.latency_cpu_ms)]
        row += [_fmt(r.throughput, 2)] + ([] if gpu else [_fmt(r.throughput_cpu, 2)])
        row += [_fmt(r.model_rss_mib, 0), _fmt(r.peak_rss_mib, 0)] + ([_fmt(r.gpu_peak_mib, 0)] if gpu else [])
        if r.status != OK:
            row[0] += f' ({r.status}: {shorten(r.message)})'
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines) + '\n'


def write_bench_report(results, out_dir, settings, command, context, gpu=False):
    table = markdown_table(results, settings, gpu)
    notes = ('Latency: each image at its own size, median of the timed runs after warm-up, then the '
             'median (and range) over images, in wall-clock time. CPU time: the same in process CPU time '
             '(summed over threads; with one thread it is unaffected by other jobs on the machine). '
             'Throughput: one batch resized to a square. RSS: resident memory above the level before '
             'the metric was created (after loading; peak during the run).')
    if any(r.peak_is_lifetime for r in results):
        notes += ' This platform cannot reset the RSS peak: peaks are process lifetime maxima.'
    text = f'# Metric speed and memory\n\nCommand: `{command}`\n\n{context}\n\n{table}\n{notes}\n'
    (out_dir / 'bench.md').write_text(text, encoding='utf-8')
    names = [f.name for f in fields(BenchResult)]
    with open(out_dir / 'bench.csv', 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=names + ['batch_size', 'size', 'device'])
        writer.writeheader()
        for r in results:
            writer.writerow({**asdict(r), 'batch_size': settings.batch_size, 'size': settings.size,
                             'device': settings.device})
    return table
