"""Running units: each a ``pyiqa-uniqa train`` process in its own folder, up to ``jobs`` at a time, resumable.

A unit folder holds ``options.yml`` (the unit's whole training options), ``train.log`` (the process's
output), pyiqa's ``experiments/run`` and ``tb_logger/run``, and, once the unit has ended,
``result.json``. A unit is finished when ``result.json`` says ``complete`` for the same options
(digest): a rerun skips it. Anything else (never started, interrupted, failed) runs again, with
``--auto_resume``, so an interrupted training continues from its last saved state. A unit being run
holds a lock on its folder, so two shard processes never run one unit twice at once.

The numbers come from pyiqa's own record of every validation (its tensorboard scalars
``val_metrics/<set>/<srcc|plcc>`` per iteration); from them:

- honest selection: the validation where the selection part (``val``) had its best SRCC (the
  latest on a tie, as pyiqa's best tracking), and every tested set's SRCC/PLCC there; its checkpoint
  is ``experiments/run/models/net_<iter>.pth`` (``net_latest.pth`` for the final validation);
- best on test (the papers' way, pyiqa's ``train_nsplits``): for each tested set separately, the
  validation where that set had its best SRCC.

pyiqa's ``net_best.pth`` is removed: with several validation sets it is overwritten whenever any of
them improves, so it is no selection at all.
"""
import contextlib
import fcntl
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from pyiqa_uniqa.apps.protocol.plan import RUN_NAME
from pyiqa_uniqa.files import write_file

HONEST, BEST_ON_TEST = 'honest', 'test'
RESULT_NAME = 'result.json'


@dataclass
class Outcome:
    """How one unit ended in this run: 'complete', 'failed', 'skipped' (finished before) or 'busy' (locked)."""
    unit: object
    state: str
    result: dict
    seconds: float = 0.0


def read_result(unit_dir, unit):
    """The unit's stored result when it is for these options, else None."""
    try:
        result = json.loads((unit_dir / RESULT_NAME).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) and result.get('digest') == unit.digest else None


def validation_history(unit_dir):
    """``{set name: [{'iter', 'srcc', 'plcc'}, ...]}`` from pyiqa's tensorboard record, by iteration.

    A resumed run repeats the validations after its last saved state; tensorboard's reader keeps the
    later values (it drops a file's events from a step the next file starts again at).
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(unit_dir / 'tb_logger' / RUN_NAME), size_guidance={'scalars': 0})
    events.Reload()
    history = {}
    for tag in events.Tags().get('scalars', []):
        section, _, rest = tag.partition('/')
        name, _, figure = rest.rpartition('/')
        if section != 'val_metrics' or figure not in ('srcc', 'plcc'):
            continue
        for event in events.Scalars(tag):
            history.setdefault(name, {}).setdefault(event.step, {'iter': event.step})[figure] = round(event.value, 6)
    return {name: [by_iter[i] for i in sorted(by_iter)] for name, by_iter in history.items()}


def _best(entries):
    """The entry with the highest SRCC, the latest on a tie (NaN never wins)."""
    best = None
    for entry in entries:
        value = entry.get('srcc', math.nan)
        if not math.isnan(value) and (best is None or value >= best['srcc']):
            best = entry
    return best


def select(history, columns, unit_dir):
    """Both selection rules (module doc) from a unit's validation history; the honest rule's checkpoint
    is given relative to ``unit_dir``."""
    chosen = _best(history.get('val', []))
    if chosen is None:
        raise ValueError('the selection part was never validated (or its SRCC was always undefined)')
    at = {name: {e['iter']: e for e in entries} for name, entries in history.items()}
    models = Path('experiments', RUN_NAME, 'models')
    checkpoint = models / f'net_{chosen["iter"]}.pth'
    if not (unit_dir / checkpoint).is_file():
        checkpoint = models / 'net_latest.pth'
    honest = {'iter': chosen['iter'], 'val_srcc': chosen['srcc'], 'checkpoint': str(checkpoint),
              'columns': {c: at.get(c, {}).get(chosen['iter']) for c in columns}}
    on_test = {'columns': {c: _best(history.get(c, [])) for c in columns}}
    return {HONEST: honest, BEST_ON_TEST: on_test}


def train_command(nproc):
    """The unit's training command: ``pyiqa-uniqa train``, under torchrun with ``nproc`` > 1."""
    train = ['-m', 'pyiqa_uniqa', 'train', '-opt', 'options.yml', '--auto_resume']
    if nproc > 1:
        return [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}',
                *train[1:], '--launcher', 'pytorch']
    return [sys.executable, *train]


ERROR_LINE = re.compile(r'^(pyiqa-uniqa \S+: error: |[\w.]*(Error|Exception|Interrupt)\b)')


def failure_reason(log_file):
    """What ended a failed unit: the last error line of its log (an exception, or the CLI's error line)."""
    try:
        lines = [line.strip() for line in log_file.read_text(encoding='utf-8', errors='replace').splitlines()]
    except OSError:
        return 'no train.log'
    errors = [line for line in lines if ERROR_LINE.match(line)]
    return errors[-1] if errors else next((line for line in reversed(lines) if line), 'train.log is empty')


class RunningUnit:
    """One unit's training process, with its folder locked while it runs."""

    def __init__(self, unit, out_dir, nproc, env):
        self.unit, self.dir = unit, out_dir / unit.folder
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock = open(self.dir / '.lock', 'w')  # noqa: SIM115 - held until the unit ends
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.lock.close()
            self.process = None
            return
        write_file(self.dir / 'options.yml', yaml.safe_dump(unit.options, sort_keys=False))
        (self.dir / RESULT_NAME).unlink(missing_ok=True)
        self.started = time.time()
        with open(self.dir / 'train.log', 'a', encoding='utf-8') as log:
            log.write(f'\n=== {time.strftime("%Y-%m-%d %H:%M:%S")} {" ".join(train_command(nproc))}\n')
            log.flush()
            self.process = subprocess.Popen(train_command(nproc), cwd=self.dir, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def finish(self):
        """Record how the process ended (``result.json``) and release the folder."""
        seconds = time.time() - self.started
        result = {'unit': self.unit.label, 'digest': self.unit.digest, 'seconds': round(seconds, 1),
                  'returncode': self.process.returncode}
        if self.process.returncode == 0:
            try:
                history = validation_history(self.dir)
                result.update(state='complete', history=history, selected=select(history, self.unit.columns, self.dir))
                (self.dir / 'experiments' / RUN_NAME / 'models' / 'net_best.pth').unlink(missing_ok=True)  # module doc
            except (OSError, ValueError) as err:
                result.update(state='failed', error=f'{type(err).__name__}: {err}')
        else:
            result.update(state='failed', error=failure_reason(self.dir / 'train.log'))
        write_file(self.dir / RESULT_NAME, json.dumps(result, indent=1))
        self.release()
        return Outcome(self.unit, result['state'], result, seconds)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.release()

    def release(self):
        with contextlib.suppress(OSError):
            fcntl.flock(self.lock, fcntl.LOCK_UN)
            self.lock.close()


def unit_environment(jobs):
    """The environment of unit processes: CPU threads shared out among the parallel units, unless set."""
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1) // jobs)))
    return env


def run_units(units, out_dir, jobs=1, nproc=1, on_outcome=None, poll_s=0.2):
    """Run the units not finished yet, ``jobs`` at a time; ``on_outcome(outcome)`` as each ends.

    Finished units are reported as 'skipped' first. An interruption (Ctrl-C, SIGTERM) stops the
    running units' processes, so none keeps writing into a folder a later run resumes.
    """
    out_dir = Path(out_dir)
    report = on_outcome or (lambda outcome: None)
    pending = []
    for unit in units:
        result = read_result(out_dir / unit.folder, unit)
        if result and result.get('state') == 'complete':
            report(Outcome(unit, 'skipped', result))
        else:
            pending.append(unit)
    env = unit_environment(jobs)
    running = []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                started = RunningUnit(pending.pop(0), out_dir, nproc, env)
                if started.process is None:
                    report(Outcome(started.unit, 'busy', {}))
                else:
                    running.append(started)
            time.sleep(poll_s)
            for started in [r for r in running if r.process.poll() is not None]:
                running.remove(started)
                report(started.finish())
    finally:
        for started in running:
            started.stop()
