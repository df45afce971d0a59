"""Run ``pyiqa-uniqa train`` for a demo stage in its own process and show its progress.

Each training is the command a user would type, in a child process with the demo's ``--threads``
torch threads. One is the default: two CPU cores then serve two trainings side by side (the demo
runs the random-backbone adapter while the backbone pre-trains), which on a small shared CPU beats
two threads in one process (one thread per process measured faster here). pyiqa logs everything (options, environment,
one line per ``print_freq`` iterations, validation results) to the experiment's log file; the
demo shows one line per logged step (epoch, iteration, loss) and per validation (SRCC, PLCC,
best so far), prefixed with the stage, and on failure the end of the log.
"""
import collections
import os
import re
import subprocess
import sys
import threading
import time

_TOTAL_EPOCHS = re.compile(r'Total epochs: (\d+);')
_STEP = re.compile(r'\[epoch:\s*(\d+), iter:\s*([\d,]+), lr:\(([^,)]+)')
_LOSS = re.compile(r'\b(l_\w+): (\S+)')
_VALIDATION = re.compile(r'^Validation (\S+)')
_METRIC = re.compile(r'# (\w+): (\S+)\s+Best: (\S+) @ (\d+) iter')

print_lock = threading.Lock()


def say(line):
    with print_lock:
        print(line, flush=True)


class TrainingProgress:
    """Turns pyiqa's training log, line by line, into the demo's progress lines (None for the rest)."""

    def __init__(self, label):
        self.label, self.epochs, self.validating = label, '?', None

    def line(self, text):
        if match := _TOTAL_EPOCHS.search(text):
            self.epochs = match.group(1)
        elif match := _STEP.search(text):
            epoch, step, lr = match.groups()
            losses = '  '.join(f'{name[2:]} loss {float(value):.4f}' for name, value in _LOSS.findall(text))
            return f'  {self.label}: epoch {epoch}/{self.epochs}  step {step}  {losses}  lr {float(lr):.2e}'
        elif match := _VALIDATION.search(text.split('INFO: ')[-1]):
            self.validating = match.group(1)
        elif (match := _METRIC.search(text)) and self.validating and match.group(1) == 'srcc':
            _, value, best, at = match.groups()
            return (f'  {self.label}: validation on {self.validating}: SRCC {float(value):.4f} '
                    f'(best {float(best):.4f} at step {at})')
        return None


class TrainingJob:
    """``pyiqa-uniqa train -opt <options_file>`` started in ``workdir`` with ``threads`` torch threads;
    ``wait()`` returns its run time."""

    def __init__(self, label, options_file, workdir, threads=1):
        self.label, self.workdir = label, workdir
        self.progress = TrainingProgress(label)
        self.tail = collections.deque(maxlen=40)
        self.seconds = None
        environment = {**os.environ, 'OMP_NUM_THREADS': str(threads), 'MKL_NUM_THREADS': str(threads),
                       'PYTHONUNBUFFERED': '1'}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'pyiqa_uniqa', 'train', '-opt', str(options_file)], cwd=workdir,
            env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.tail.append(line.rstrip())
            if shown := self.progress.line(line):
                say(shown)
        self.seconds = time.perf_counter() - self.started  # the child's own run time, whenever it is waited for

    def stop(self):
        """End the training if it still runs (the demo stopped for another reason)."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait()

    def wait(self):
        """Seconds the training took; a failed training raises with the end of its output."""
        code = self.process.wait()
        self.reader.join()
        if code != 0:
            log = '\n'.join(f'    {line}' for line in self.tail)
            raise DemoStageError(f'{self.label} failed (exit status {code}); the end of its output:\n{log}\n'
                                 f'The full log is under {self.workdir}/experiments/.')
        return self.seconds


class DemoStageError(RuntimeError):
    """A training stage of the demo failed: a bug or a broken installation, not a user mistake."""

