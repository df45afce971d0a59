"""Run a demo stage's training in its own process and show its progress.

Each training is what ``pyiqa-uniqa train -opt <file>`` runs (``training.pipeline.train_in_process``,
pyiqa's own loop) in a child process with the demo's ``--threads`` torch threads. One is the default:
two CPU cores then serve two trainings side by side (the demo runs the random-backbone adapter while
the backbone pre-trains), which on a small CPU beats two threads in one process. The child follows
its loop through callbacks (``ProgressLines``): one line per logged step (``logger.print_freq``) and
per validation (SRCC, best so far), prefixed with the stage, sent to the demo through a queue.
pyiqa's own log goes to ``<options file>.out`` beside the options file; on failure the demo shows its end.
"""
import collections
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import queue
import sys
import threading
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

from pyiqa_uniqa.training.pipeline import TrainingCallbacks

print_lock = threading.Lock()
STOP_GRACE_S = 5.0  # how long a stopped training may take to finish its iteration before it is terminated


def say(line):
    with print_lock:
        print(line, flush=True)


class ProgressLines(TrainingCallbacks):
    """The demo's progress lines of one training, from inside pyiqa's loop; ``stop`` (an Event) ends it."""

    def __init__(self, label, send, stop=None):
        self.label, self.send, self.stop = label, send, stop
        self.total, self.every = '?', 1

    def started(self, model, total_iters):
        self.total, self.every = total_iters, model.opt['logger'].get('print_freq', 1)

    def iteration_done(self, model, iteration):
        if iteration % self.every:
            return
        losses = '  '.join(f'{name[2:]} loss {value:.4f}' for name, value in model.get_current_log().items()
                           if name.startswith('l_'))
        self.send(f'  {self.label}: step {iteration}/{self.total}  {losses}  '
                  f'lr {model.get_current_learning_rate()[0]:.2e}')

    def validated(self, model, iteration, dataset, results):
        if 'srcc' in results:
            best = model.best_metric_results[dataset]['srcc']
            self.send(f'  {self.label}: validation on {dataset}: SRCC {results["srcc"]:.4f} '
                      f'(best {best["val"]:.4f} at step {best["iter"]})')

    def should_stop(self):
        return self.stop is not None and self.stop.is_set()


def _train(label, options_file, workdir, lines, stop, console, threads=1):
    """The child process: train ``options_file`` in ``workdir`` as the train command does; exit status 2
    for a user error (its one line in ``console``), 1 for a bug (its traceback there)."""
    import torch

    from pyiqa_uniqa.errors import UserError
    from pyiqa_uniqa.training.pipeline import train_in_process

    torch.set_num_threads(threads)
    os.chdir(workdir)  # the demo's recipes name their datasets relative to the work folder
    args = SimpleNamespace(opt=options_file, force_yml=None, auto_resume=False, debug=False, launcher='none',
                           local_rank=0, strict_options=False)
    status = 0
    with open(console, 'w', encoding='utf-8') as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        try:
            train_in_process(args, ProgressLines(label, lines.put, stop))
        except UserError as err:
            print(f'pyiqa-uniqa train: error: {err}', file=log)
            status = 2
        except BaseException:  # noqa: B036 - reported to the demo, which stops
            traceback.print_exc(file=log)
            status = 1
    lines.put(None)
    sys.exit(status)


class TrainingJob:
    """The training of ``options_file`` started in ``workdir`` with ``threads`` torch threads; ``wait()``
    returns its run time."""

    def __init__(self, label, options_file, workdir, threads=1):
        self.label, self.workdir = label, Path(workdir)
        self.console = Path(f'{options_file}.out')
        context = multiprocessing.get_context('spawn')  # a fresh interpreter: no forked torch threads
        self.lines, self.stop_event = context.Queue(), context.Event()
        self.seconds = None
        self.started = time.perf_counter()
        self.process = context.Process(target=_train, daemon=True, args=(
            label, str(options_file), str(self.workdir), self.lines, self.stop_event, str(self.console), threads))
        self.process.start()
        self.reader = threading.Thread(target=self._show, daemon=True)
        self.reader.start()

    def _show(self):
        # this thread watches the process's sentinel and never waits on the process itself: two threads in
        # waitpid on one child race, and the loser sees no exit code (the main thread's stop/wait reap it)
        ended = self.process.sentinel
        while True:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if multiprocessing.connection.wait([ended], timeout=0):
                    break
                continue
            if line is None:
                break
            say(line)
        multiprocessing.connection.wait([ended])
        self.seconds = time.perf_counter() - self.started  # the child's own run time, whenever it is waited for

    def stop(self):
        """End the training if it still runs (the demo stopped for another reason): after its current
        iteration, or at once if it does not get there within ``STOP_GRACE_S``."""
        if self.process.is_alive():
            self.stop_event.set()
            self.process.join(STOP_GRACE_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()

    def wait(self):
        """Seconds the training took; a failed training raises with the end of its output."""
        self.process.join()
        self.reader.join()
        if self.process.exitcode != 0:
            tail = collections.deque(self._console_lines(), maxlen=40)
            log = '\n'.join(f'    {line}' for line in tail)
            raise DemoStageError(f'{self.label} failed (exit status {self.process.exitcode}); the end of its '
                                 f'output:\n{log}\nThe full log is {self.console} and under '
                                 f'{self.workdir}/experiments/.')
        return self.seconds

    def _console_lines(self):
        try:
            return self.console.read_text(encoding='utf-8', errors='replace').splitlines()
        except FileNotFoundError:
            return []


class DemoStageError(RuntimeError):
    """A training stage of the demo failed: a bug or a broken installation, not a user mistake."""
