"""``bench --pipeline``: ``pyiqa-uniqa score`` against pyiqa's own CLI on the same folder and metric.

For each metric, in images per second (and per CPU-second, which other jobs on a shared machine
do not distort):
- **pyiqa CLI**: ``python -m pyiqa.pyiqa_cmd <metric> -t <folder>`` end to end (start-up, model load,
  one image at a time, decoding on the main thread). pyiqa's CLI takes no metric options, so a
  metric given with options has no figure here (put its weights where the metric finds them by
  default instead, e.g. ``$UNIQA_WEIGHTS`` or pyiqa's cache dir).
- **score**: ``pyiqa-uniqa score`` end to end on the same folder (fresh journal), and its scoring
  loop alone (from its summary: model loaded, images read by worker processes).
- **encoder floor**: for networks with a frozen tower (``frozen_features``: everything before the
  first trainable part, per crop), the time of that call alone on the same images, already decoded,
  batched as ``score`` batches them. ``loop / floor`` is how far the whole pipeline is above it, in
  wall-clock time and in CPU time of the scoring process.
Both commands run with their default flags (what a user gets) unless ``--threads`` is given, which
then goes to both (``--threads`` to score, ``OMP_NUM_THREADS`` to pyiqa's CLI). Each command runs in a
fresh process, the two taking turns (pyiqa CLI, score, pyiqa CLI, score, ...: ``alternate.py``) for
``--repeats`` rounds; the figures are medians with the range of the rounds. ``--with-load`` runs it all
again beside one other CPU-bound process.
"""
import csv
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path

from pyiqa_uniqa.apps.bench.speed.alternate import Spread, alternate, busy_neighbour, spread

LOOP_SUMMARY = re.compile(r'score: (?P<label>.+?): \d+ images \((?P<scored>\d+) scored now in (?P<seconds>[\d.]+) s '
                          r'\[(?P<cpu>[\d.]+) CPU-s\]')


@dataclass
class PipelineSettings:
    device: str = 'cpu'
    threads: int = None  # None: each command's default; else torch threads for both
    batch_size: int = None  # None: score's default per metric
    num_workers: int = None  # None: score's default
    metric_opt: str = None  # a --metric-opt file, passed on to score
    repeats: int = 3  # rounds: each command runs once per round, in turns (and the floor this often)
    neighbour: bool = False  # beside one other CPU-bound process


NOTHING = spread([])


@dataclass
class PipelineResult:
    metric: str
    images: int
    condition: str = 'idle'  # or 'beside a busy process'
    pyiqa_cli: Spread = NOTHING  # images/s, end to end
    pyiqa_cli_cpu: Spread = NOTHING  # images per CPU-second, end to end
    score: Spread = NOTHING  # images/s, end to end
    score_cpu: Spread = NOTHING  # images per CPU-second (its worker processes included), end to end
    score_loop: Spread = NOTHING  # images/s, scoring loop only
    score_loop_cpu: Spread = NOTHING  # images per CPU-second of the scoring loop (its main process)
    floor: Spread = NOTHING  # images/s of the frozen tower alone
    floor_cpu: Spread = NOTHING  # images per CPU-second of the frozen tower alone
    speedup: Spread = NOTHING  # score / pyiqa CLI, end to end, per round (the pair that ran together)
    note: str = ''

    @property
    def loop_over_floor(self):
        return self.floor.median / self.score_loop.median

    @property
    def loop_over_floor_cpu(self):
        return self.floor_cpu.median / self.score_loop_cpu.median


def write_photo_folder(folder, count):
    """``count`` JPEGs cycling through the scikit-image photos (mixed sizes, as a real folder)."""
    from PIL import Image

    from pyiqa_uniqa.data.photos import load_photos

    photos = load_photos()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name, array = photos[i % len(photos)]
        Image.fromarray(array).save(folder / f'{i:04d}_{name}.jpg', quality=90)
    return folder


def _per_second(count, seconds):
    return count / seconds if seconds > 0 else math.nan


@dataclass
class CommandRun:
    rate: float = math.nan  # images per second, end to end
    cpu_rate: float = math.nan  # images per CPU-second of the command and its worker processes
    loop_rate: float = math.nan  # score only: images per second of its scoring loop
    loop_cpu_rate: float = math.nan  # score only: images per CPU-second of that loop (its main process)
    note: str = ''


def _run(command, environment, count):
    """Run ``command``; -> (CommandRun with the end-to-end rates, the finished process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode:
        return CommandRun(note=f'{command[2]} failed: {done.stderr.strip().splitlines()[-1:]}'), done
    return CommandRun(_per_second(count, seconds), _per_second(count, cpu)), done


def _floor(spec, folder, settings):
    """Images/s (and per CPU-second) of ``net.frozen_features`` alone on the decoded images, in score's
    batches: ``Spread``s over ``settings.repeats`` passes."""
    import pyiqa
    import torch

    from pyiqa_uniqa.backbones.frozen import has_frozen_features
    from pyiqa_uniqa.data.pyiqa_reading import is_ours
    from pyiqa_uniqa.apps.scoring.batching import collate_by_size
    from pyiqa_uniqa.apps.run_defaults import default_batch_size, metric_kind
    from pyiqa_uniqa.apps.scoring.engine import read_like_pyiqa
    from pyiqa_uniqa.apps.scoring.inputs import find_images

    metric = pyiqa.create_metric(spec.name, device=settings.device, **spec.options)
    if not has_frozen_features(metric.net):
        return NOTHING, NOTHING, 'no frozen tower (frozen_features) to define a floor'
    rows = find_images(folder).rows
    batch_size = settings.batch_size or default_batch_size(metric_kind(metric, spec.name), settings.device)
    ours = is_ours(type(metric.net))
    records = [{'index': i, 'item': {'img': read_like_pyiqa(row.path, ours)}} for i, row in enumerate(rows)]
    batches = [group['img'] for start in range(0, len(records), batch_size)
               for group in collate_by_size(records[start:start + batch_size])[0]]
    rates, cpu_rates = [], []
    with torch.no_grad():
        for _ in range(settings.repeats):
            seconds = cpu = 0.0
            for images in batches:
                images = images.to(settings.device)
                begin, begin_cpu = time.perf_counter(), time.process_time()
                metric.net.frozen_features(images)
                if settings.device.startswith('cuda'):
                    torch.cuda.synchronize(settings.device)
                seconds += time.perf_counter() - begin
                cpu += time.process_time() - begin_cpu
            rates.append(_per_second(len(rows), seconds))
            cpu_rates.append(_per_second(len(rows), cpu))
    return spread(rates), spread(cpu_rates), ''


def _pyiqa_cli(spec, folder, count, settings, environment):
    if spec.options:
        return CommandRun(note="pyiqa's CLI takes no metric options")
    return _run([sys.executable, '-m', 'pyiqa.pyiqa_cmd', spec.name, '-t', str(folder), '--device', settings.device],
                environment, count)[0]


def score_command(spec_text, folder, out, device, threads=None, batch_size=None, num_workers=None,
                  metric_opt=None):
    """The ``pyiqa-uniqa score`` command line for one metric on ``folder`` (a fresh journal each run)."""
    command = [sys.executable, '-m', 'pyiqa_uniqa', 'score', '-m', spec_text, '--images', str(folder),
               '--out', str(out), '--no-resume', '--no-progress', '--device', device]
    for flag, value in (('threads', threads), ('batch_size', batch_size), ('num_workers', num_workers),
                        ('metric_opt', metric_opt)):
        if value is not None:
            command += [f'--{flag.replace("_", "-")}', str(value)]
    return command


def run_score(command, label, count, environment=None):
    """Run a ``score`` command line; -> ``CommandRun`` with the end-to-end and the scoring-loop rates."""
    result, done = _run(command, environment or dict(os.environ), count)
    loop = next((m for m in LOOP_SUMMARY.finditer(done.stderr) if m['label'] == label), None)
    if loop and not result.note:
        result.loop_rate = _per_second(int(loop['scored']), float(loop['seconds']))
        result.loop_cpu_rate = _per_second(int(loop['scored']), float(loop['cpu']))
    return result


def _spread_of(runs, name):
    return spread([getattr(r, name) for r in runs])


def thread_environment(threads):
    """The environment of both commands: with ``threads``, the count any torch program reads at start."""
    if threads is None:
        return dict(os.environ)
    return {**os.environ, 'OMP_NUM_THREADS': str(threads), 'MKL_NUM_THREADS': str(threads)}


def measure_pipeline(specs, spec_texts, folder, settings):
    """One ``PipelineResult`` per metric spec."""
    import torch

    from pyiqa_uniqa.apps.scoring.inputs import find_images

    if settings.threads:
        torch.set_num_threads(settings.threads)  # the floor, in this process
    environment = thread_environment(settings.threads)
    count = len(find_images(folder).rows)
    condition = 'beside a busy process' if settings.neighbour else 'idle'
    results = []
    with tempfile.TemporaryDirectory() as work, busy_neighbour(settings.neighbour):
        for spec, text in zip(specs, spec_texts):
            out = Path(work) / f'{re.sub(r"[^A-Za-z0-9_.-]", "_", spec.label)}.csv'
            score = score_command(text, folder, out, settings.device, settings.threads, settings.batch_size,
                                  settings.num_workers, settings.metric_opt)
            commands = {'pyiqa CLI': lambda: _pyiqa_cli(spec, folder, count, settings, environment),
                        'score': lambda: run_score(score, spec.label, count, environment)}
            runs = alternate(list(commands), settings.repeats, lambda name: commands[name](), announce=lambda n, name: print(
                f'bench --pipeline: {spec.label} ({condition}): round {n + 1}/{settings.repeats}: {name} ...',
                file=sys.stderr, flush=True))
            cli_runs, score_runs = runs['pyiqa CLI'], runs['score']
            result = PipelineResult(spec.label, count, condition)
            result.pyiqa_cli, result.pyiqa_cli_cpu = (_spread_of(cli_runs, n) for n in ('rate', 'cpu_rate'))
            result.score, result.score_cpu, result.score_loop, result.score_loop_cpu = (
                _spread_of(score_runs, n) for n in ('rate', 'cpu_rate', 'loop_rate', 'loop_cpu_rate'))
            result.speedup = spread([s.rate / c.rate for c, s in zip(cli_runs, score_runs)])
            print(f'bench --pipeline: {spec.label}: encoder floor ...', file=sys.stderr, flush=True)
            result.floor, result.floor_cpu, floor_note = _floor(spec, folder, settings)
            result.note = '; '.join(n for n in (cli_runs[0].note, score_runs[0].note, floor_note) if n)
            results.append(result)
    return results


def _ratio(value, digits=3):
    return '–' if math.isnan(value) else f'{value:.{digits}f}'


def pipeline_table(results):
    head = ['metric', 'condition', 'images', 'pyiqa CLI (img/s)', 'score (img/s)', 'score / pyiqa CLI',
            'pyiqa CLI (img/CPU-s)', 'score (img/CPU-s)', 'score loop (img/s)', 'encoder floor (img/s)',
            'loop / floor (wall)', 'loop / floor (CPU)', 'note']
    lines = ['| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
    for r in results:
        lines.append('| ' + ' | '.join([r.metric, r.condition, str(r.images), f'{r.pyiqa_cli}', f'{r.score}',
                                        f'{r.speedup}', f'{r.pyiqa_cli_cpu.median:.2f}', f'{r.score_cpu.median:.2f}',
                                        f'{r.score_loop}', f'{r.floor}', _ratio(r.loop_over_floor),
                                        _ratio(r.loop_over_floor_cpu), r.note]) + ' |')
    return '\n'.join(lines).replace('nan', '–') + '\n'


def write_pipeline_report(results, out_dir, command, context):
    table = pipeline_table(results)
    notes = ('Medians of the rounds, (lowest–highest) beside them; in each round the two commands ran one after '
             'the other, each in a fresh process. '
             'End to end: wall time of the whole command (start-up, model load, scoring, output) per image; '
             'score / pyiqa CLI: the ratio within each round, then its median. '
             'img/CPU-s: per CPU-second of the command and its worker processes (what a busy machine costs). '
             'Score loop: the scoring loop only. Floor: the frozen tower alone on the decoded images; '
             '"loop / floor" is the loop\'s time over the floor\'s, in wall-clock time and in CPU time of the '
             'scoring process; 1.00 means the pipeline adds nothing to the frozen tower.')
    (out_dir / 'bench_pipeline.md').write_text(
        f'# score against pyiqa\'s CLI\n\nCommand: `{command}`\n\n{context}\n\n{table}\n{notes}\n', encoding='utf-8')
    figures = [f.name for f in fields(PipelineResult) if f.type is Spread or f.type == 'Spread']
    with open(out_dir / 'bench_pipeline.csv', 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=['metric', 'images', 'condition', *figures,
                                               'pyiqa_cli_low', 'pyiqa_cli_high', 'score_low', 'score_high',
                                               'loop_over_floor', 'loop_over_floor_cpu', 'note'])
        writer.writeheader()
        for r in results:
            writer.writerow({'metric': r.metric, 'images': r.images, 'condition': r.condition, 'note': r.note,
                             **{name: getattr(r, name).median for name in figures},
                             'pyiqa_cli_low': r.pyiqa_cli.low, 'pyiqa_cli_high': r.pyiqa_cli.high,
                             'score_low': r.score.low, 'score_high': r.score.high,
                             'loop_over_floor': r.loop_over_floor, 'loop_over_floor_cpu': r.loop_over_floor_cpu})
    return table
