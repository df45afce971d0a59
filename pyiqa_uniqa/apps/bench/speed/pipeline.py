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
  wall-clock time and in CPU time of the scoring process (with one torch thread the CPU time is the
  compute; reading images runs in worker processes, beside it).
Both commands get the same torch thread count (``--threads``, default 1) and device. Each figure
is the best of ``--repeats`` runs, the two commands taking turns, so that other jobs on a shared
machine slow both alike and the best run is the least disturbed.
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
from dataclasses import asdict, dataclass, fields
from pathlib import Path

LOOP_SUMMARY = re.compile(r'score: (?P<label>.+?): \d+ images \((?P<scored>\d+) scored now in (?P<seconds>[\d.]+) s '
                          r'\[(?P<cpu>[\d.]+) CPU-s\]')


@dataclass
class PipelineSettings:
    device: str = 'cpu'
    threads: int = 1
    batch_size: int = None  # None: score's default per metric
    num_workers: int = None  # None: score's default
    metric_opt: str = None  # a --metric-opt file, passed on to score
    repeats: int = 3  # runs of each command (and of the floor); the best counts


@dataclass
class PipelineResult:
    metric: str
    images: int
    pyiqa_cli: float = math.nan  # images/s, end to end
    pyiqa_cli_cpu: float = math.nan  # images per CPU-second, end to end
    score: float = math.nan  # images/s, end to end
    score_cpu: float = math.nan  # images per CPU-second (its worker processes included), end to end
    score_loop: float = math.nan  # images/s, scoring loop only
    score_loop_cpu: float = math.nan  # images per CPU-second of the scoring loop (its main process)
    floor: float = math.nan  # images/s of the frozen tower alone
    floor_cpu: float = math.nan  # images per CPU-second of the frozen tower alone
    note: str = ''

    @property
    def speedup(self):
        return self.score / self.pyiqa_cli

    @property
    def loop_over_floor(self):
        return self.floor / self.score_loop

    @property
    def loop_over_floor_cpu(self):
        return self.floor_cpu / self.score_loop_cpu


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


def _pyiqa_cli(spec, folder, count, settings, environment):
    if spec.options:
        return CommandRun(note="pyiqa's CLI takes no metric options")
    return _run([sys.executable, '-m', 'pyiqa.pyiqa_cmd', spec.name, '-t', str(folder), '--device', settings.device],
                environment, count)[0]


def _score(spec_text, label, folder, count, settings, work, environment):
    out = work / f'{re.sub(r"[^A-Za-z0-9_.-]", "_", label)}.csv'
    command = [sys.executable, '-m', 'pyiqa_uniqa', 'score', '-m', spec_text, '--images', str(folder),
               '--out', str(out), '--no-resume', '--no-progress', '--device', settings.device,
               '--threads', str(settings.threads)]
    for flag in ('batch_size', 'num_workers', 'metric_opt'):
        if getattr(settings, flag) is not None:
            command += [f'--{flag.replace("_", "-")}', str(getattr(settings, flag))]
    result, done = _run(command, environment, count)
    loop = next((m for m in LOOP_SUMMARY.finditer(done.stderr) if m['label'] == label), None)
    if loop and not result.note:
        result.loop_rate = _per_second(int(loop['scored']), float(loop['seconds']))
        result.loop_cpu_rate = _per_second(int(loop['scored']), float(loop['cpu']))
    return result


def _floor(spec, folder, settings):
    """Images/s of ``net.frozen_features`` alone on the decoded images, in score's batches."""
    import pyiqa
    import torch

    from pyiqa_uniqa.backbones.frozen import has_frozen_features
    from pyiqa_uniqa.data.pyiqa_reading import is_ours
    from pyiqa_uniqa.apps.scoring.batching import collate_by_size
    from pyiqa_uniqa.apps.scoring.columns import default_batch_size
    from pyiqa_uniqa.apps.scoring.engine import read_like_pyiqa
    from pyiqa_uniqa.apps.scoring.inputs import find_images

    metric = pyiqa.create_metric(spec.name, device=settings.device, **spec.options)
    if not has_frozen_features(metric.net):
        return math.nan, math.nan, 'no frozen tower (frozen_features) to define a floor'
    rows = find_images(folder).rows
    batch_size = settings.batch_size or default_batch_size(spec.name, settings.device)
    ours = is_ours(type(metric.net))
    records = [{'index': i, 'item': {'img': read_like_pyiqa(row.path, ours)}} for i, row in enumerate(rows)]
    batches = [group['img'] for start in range(0, len(records), batch_size)
               for group in collate_by_size(records[start:start + batch_size])[0]]
    best, best_cpu = math.inf, math.inf
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
            best, best_cpu = min(best, seconds), min(best_cpu, cpu)
    return _per_second(len(rows), best), _per_second(len(rows), best_cpu), ''


def _best(runs, name):
    """The highest rate over the runs (NaN when none has one)."""
    rates = [getattr(r, name) for r in runs if not math.isnan(getattr(r, name))]
    return max(rates) if rates else math.nan


def measure_pipeline(specs, spec_texts, folder, settings):
    """One ``PipelineResult`` per metric spec."""
    import torch

    from pyiqa_uniqa.apps.scoring.inputs import find_images

    torch.set_num_threads(settings.threads)
    # both commands see the same thread count, set the way any torch program reads it
    environment = {**os.environ, 'OMP_NUM_THREADS': str(settings.threads), 'MKL_NUM_THREADS': str(settings.threads)}
    count = len(find_images(folder).rows)
    results = []
    with tempfile.TemporaryDirectory() as work:
        for spec, text in zip(specs, spec_texts):
            result = PipelineResult(spec.label, count)
            cli_runs, score_runs = [], []
            for run in range(settings.repeats):
                print(f'bench --pipeline: {spec.label}: run {run + 1}/{settings.repeats}: pyiqa CLI, score ...',
                      file=sys.stderr, flush=True)
                cli_runs.append(_pyiqa_cli(spec, folder, count, settings, environment))
                score_runs.append(_score(text, spec.label, folder, count, settings, Path(work), environment))
            result.pyiqa_cli, result.pyiqa_cli_cpu = (_best(cli_runs, name) for name in ('rate', 'cpu_rate'))
            result.score, result.score_cpu, result.score_loop, result.score_loop_cpu = (
                _best(score_runs, name) for name in ('rate', 'cpu_rate', 'loop_rate', 'loop_cpu_rate'))
            cli_note, score_note = cli_runs[0].note, score_runs[0].note
            print(f'bench --pipeline: {spec.label}: encoder floor ...', file=sys.stderr, flush=True)
            result.floor, result.floor_cpu, floor_note = _floor(spec, folder, settings)
            result.note = '; '.join(n for n in (cli_note, score_note, floor_note) if n)
            results.append(result)
    return results


def _fmt(value, digits=2):
    return '–' if value is None or math.isnan(value) else f'{value:.{digits}f}'


def pipeline_table(results):
    head = ['metric', 'images', 'pyiqa CLI (img/s)', 'score (img/s)', 'score / pyiqa CLI',
            'pyiqa CLI (img/CPU-s)', 'score (img/CPU-s)', 'score loop (img/s)', 'encoder floor (img/s)',
            'loop / floor (wall)', 'loop / floor (CPU)', 'note']
    lines = ['| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
    for r in results:
        lines.append('| ' + ' | '.join([r.metric, str(r.images), _fmt(r.pyiqa_cli), _fmt(r.score), _fmt(r.speedup),
                                        _fmt(r.pyiqa_cli_cpu), _fmt(r.score_cpu), _fmt(r.score_loop), _fmt(r.floor),
                                        _fmt(r.loop_over_floor, 3), _fmt(r.loop_over_floor_cpu, 3), r.note]) + ' |')
    return '\n'.join(lines) + '\n'


def write_pipeline_report(results, out_dir, command, context):
    table = pipeline_table(results)
    notes = ('Best of the runs, the commands taking turns. '
             'End to end: wall time of the whole command (start-up, model load, scoring, output) per image; '
             'img/CPU-s: per CPU-second of the command and its worker processes (what a busy machine costs). '
             'Score loop: the scoring loop only. Floor: the frozen tower alone on the decoded images; '
             '"loop / floor" is the loop\'s time over the floor\'s, in wall-clock time and in CPU time of the '
             'scoring process (one torch thread: CPU time is the compute, whatever else runs on the machine); '
             '1.00 means the pipeline adds nothing to the frozen tower.')
    (out_dir / 'bench_pipeline.md').write_text(
        f'# score against pyiqa\'s CLI\n\nCommand: `{command}`\n\n{context}\n\n{table}\n{notes}\n', encoding='utf-8')
    with open(out_dir / 'bench_pipeline.csv', 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=[f.name for f in fields(PipelineResult)]
                                + ['speedup', 'loop_over_floor', 'loop_over_floor_cpu'])
        writer.writeheader()
        for r in results:
            writer.writerow({**asdict(r), 'speedup': r.speedup, 'loop_over_floor': r.loop_over_floor,
                             'loop_over_floor_cpu': r.loop_over_floor_cpu})
    return table
