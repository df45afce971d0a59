"""One worker thread runs every model; concurrent requests of one kind share a forward pass.

A request is admitted only while fewer than ``queue_size`` requests are in the server (``admit``);
the next one gets a ``BusyError`` at once ("busy, retry"), so a flood never builds an unbounded
queue and no client waits forever. An admitted request submits one job per metric it needs.

The worker takes a job, then every job already waiting, then waits up to ``wait_s`` for more jobs
of the first job's kind while its batch is not full. Jobs of one *group* (same metric, task and
input shapes: images are never resized or padded, which would change their scores) run as one
call of ``run_group``, at most ``batch_limit(group)`` at a time. When a batched call fails, its
jobs are run one by one, so a bad image fails only its own request. A job whose caller stopped
waiting (timeout) is cancelled and skipped.
"""
import contextlib
import queue
import threading
import time
from concurrent.futures import Future

from pyiqa_uniqa.apps.app.limits import BusyError

_STOP = object()


class Batcher:
    def __init__(self, run_group, batch_limit, queue_size, wait_s):
        """``run_group(group, inputs) -> results`` (one per input); ``batch_limit(group) -> int``."""
        self._run_group = run_group
        self._batch_limit = batch_limit
        self._wait_s = wait_s
        self._slots = threading.BoundedSemaphore(queue_size)
        self.queue_size = queue_size
        self.rejected = 0  # requests refused because the queue was full
        self.forward_passes = 0
        self._jobs = queue.Queue()
        self._worker = threading.Thread(target=self._work, name='pyiqa-uniqa-app-models', daemon=True)
        self._worker.start()

    @contextlib.contextmanager
    def admit(self):
        """Hold one of the ``queue_size`` request slots while a request is served; ``BusyError`` when none is free."""
        if not self._slots.acquire(blocking=False):
            self.rejected += 1
            raise BusyError(f'the server is busy ({self.queue_size} requests in progress): retry in a moment.')
        try:
            yield
        finally:
            self._slots.release()

    def submit(self, group, item):
        """Queue one input of ``group``; -> a Future of its result."""
        future = Future()
        self._jobs.put((group, item, future))
        return future

    def close(self):
        self._jobs.put(_STOP)
        self._worker.join()

    def _take(self):
        """The next round of jobs: one, everything already waiting, and what arrives within ``wait_s``
        for the first job's group while its batch is not full. None when closing."""
        first = self._jobs.get()
        if first is _STOP:
            return None
        jobs = [first]
        limit = self._batch_limit(first[0])
        deadline = time.monotonic() + self._wait_s
        while True:
            same = sum(1 for job in jobs if job[0] == first[0])
            remaining = deadline - time.monotonic()
            try:
                job = self._jobs.get(timeout=remaining) if same < limit and remaining > 0 else self._jobs.get_nowait()
            except queue.Empty:
                return jobs
            if job is _STOP:
                self._jobs.put(_STOP)  # finish this round, stop at the next
                return jobs
            jobs.append(job)

    def _work(self):
        while (jobs := self._take()) is not None:
            groups = {}
            for group, item, future in jobs:
                if future.set_running_or_notify_cancel():  # False: its caller gave up waiting
                    groups.setdefault(group, []).append((item, future))
            for group, members in groups.items():
                limit = self._batch_limit(group)
                for start in range(0, len(members), limit):
                    self._run(group, members[start:start + limit])

    def _run(self, group, members):
        try:
            self.forward_passes += 1
            results = self._run_group(group, [item for item, _ in members])
        except Exception as err:  # noqa: BLE001 - the error goes to the request(s) it belongs to
            if len(members) > 1:
                for member in members:
                    self._run(group, [member])
            else:
                members[0][1].set_exception(err)
            return
        for (_, future), result in zip(members, results):
            future.set_result(result)
