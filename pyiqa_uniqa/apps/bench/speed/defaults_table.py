"""``bench --defaults``: the thread/reader table behind ``score``'s defaults (``apps/run_defaults.py``).

For each metric, ``pyiqa-uniqa score`` runs on the same folder in a fresh process per setting: every
combination of torch threads (1 and all usable cores) and reader processes (0, 1 and cores - 1), and
``score`` with no flags (the default). The settings take turns, round after round (``alternate.py``), idle
and then beside one other CPU-bound process. Each row gives the median (lowest–highest) images/s end to
end (the whole command: start-up, model load, readers' start, scoring, output) and of the scoring loop,
the CPU-seconds per image of the command and its readers, and the end-to-end median relative to the best
setting of the same metric and condition: the default should be within 10% of the best.
"""
import math
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pyiqa_uniqa.apps.bench.speed.alternate import alternate, busy_neighbour, spread
from pyiqa_uniqa.apps.bench.speed.pipeline import run_score, score_command

# the two kinds a CPU run meets most: a classical metric (no parameters) and a CLIP ViT-B/16 tower
# (UniQA's geometry with random weights, one crop per image: the cost of one CLIP image forward)
DEFAULT_METRICS = ('piqe', 'uniqa:backbone_weights=random,num_crops=1')
CONDITIONS = ('idle', 'beside a busy process')


@dataclass(frozen=True)
class Setting:
    threads: int = None  # None (both): score's defaults
    readers: int = None

    def __str__(self):
        if self.threads is None:
            return 'default'
        return f'{self.threads} thread{"s" * (self.threads > 1)}, {self.readers} reader{"s" * (self.readers != 1)}'


def candidate_settings(cores):
    """The grid for ``cores`` usable cores, then the default."""
    threads = sorted({1, cores})
    readers = sorted({0, 1, max(1, cores - 1)})
    return [Setting(t, r) for t in threads for r in readers] + [Setting()]


@dataclass
class Row:
    metric: str
    condition: str
    setting: Setting
    end_to_end: object  # Spread of images/s
    loop: object  # Spread of images/s
    cpu_per_image: float  # median CPU-seconds per image, end to end (readers included)
    vs_best: float = math.nan  # end-to-end median / the best setting's


def measure_settings(spec_text, label, folder, count, device, settings, rounds, condition, work):
    """Rows for one metric in one condition."""
    out = Path(work) / f'{re.sub(r"[^A-Za-z0-9_.-]", "_", label)}.csv'
    commands = {s: score_command(spec_text, folder, out, device, s.threads, num_workers=s.readers) for s in settings}
    runs = alternate(settings, rounds, lambda s: run_score(commands[s], label, count), announce=lambda n, s: print(
        f'bench --defaults: {label} ({condition}): round {n + 1}/{rounds}: {s} ...', file=sys.stderr, flush=True))
    rows = []
    for setting, results in runs.items():
        failed = next((r.note for r in results if r.note), '')
        if failed:
            raise RuntimeError(f'{label}, {setting}: {failed}')
        cpu = spread([1 / r.cpu_rate for r in results]).median
        rows.append(Row(label, condition, setting, spread([r.rate for r in results]),
                        spread([r.loop_rate for r in results]), cpu))
    best = max(row.end_to_end.median for row in rows)
    for row in rows:
        row.vs_best = row.end_to_end.median / best
    return rows


def measure_defaults(specs, spec_texts, folder, count, device, cores, rounds, conditions=CONDITIONS):
    settings = candidate_settings(cores)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for condition in conditions:
            with busy_neighbour(condition != 'idle'):
                for spec, text in zip(specs, spec_texts):
                    done = measure_settings(text, spec.label, folder, count, device, settings, rounds,
                                            condition, work)
                    print(defaults_table(done), file=sys.stderr, flush=True)  # kept if a later part fails
                    rows += done
    return rows


def defaults_table(rows):
    head = ['metric', 'condition', 'setting', 'end to end (img/s)', 'scoring loop (img/s)', 'CPU-s per image',
            'end to end / best']
    lines = ['| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
    for r in rows:
        mark = '**' if r.setting == Setting() else ''
        lines.append('| ' + ' | '.join([r.metric, r.condition, f'{mark}{r.setting}{mark}', f'{r.end_to_end}',
                                        f'{r.loop}', f'{r.cpu_per_image:.3f}', f'{r.vs_best:.2f}']) + ' |')
    return '\n'.join(lines) + '\n'
