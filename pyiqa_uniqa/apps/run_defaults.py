"""Torch threads, image-reading processes and batch size when the user gives none.

Every command that runs metrics over many images (``score``, ``compare``, ``rank``, ``eval``, ``label`` and
``score_images``) asks ``run_defaults`` once its model exists, so the defaults follow what
the model is and how many cores are free for it now: the cores this process may use
(``os.sched_getaffinity``: a container's or ``taskset``'s limit, not the machine's count) less those other
processes keep busy (``free_cores.py``). Flags the user gives always win.

Metric kinds, told apart by the built network (``metric_kind``):
- ``'pixel'``: no learned parameters (pyiqa's classical metrics: psnr, ssim, niqe, brisque, piqe, ...).
- ``'tower'``: a learned network (CLIP towers, timm backbones, pyiqa's deep metrics).
- ``'language'``: a language model (DepictQA, Q-Align, ...): one image at a time, seconds per image.

The rule on a CPU (``free`` = free cores), chosen by ``pyiqa-uniqa bench --defaults`` (docs/speed.md):
- every kind: ``free`` torch threads. A thread on a core another process keeps busy waits for it: beside
  one busy process on 2 cores, two threads ran piqe 1.2 times and a CLIP tower 1.6 times slower than one.
- readers: none while ``free`` is 1 or 2 (a reader then takes a core from the threads; 4-10% slower for
  piqe and a CLIP tower on 2 cores), one beyond that (decoding the next image beside the threads);
  none for a language model. Batch 1 (batching makes most metrics no faster on a CPU and some slower:
  pyiqa's piqe 77 -> 144 ms per 512x512 image at batch 4; UniQA already batches an image's crops).
With a GPU the CPU only reads and feeds: 1 torch thread, ``min(8, free - 1)`` readers (at least 1), batch 32
(language models: 1). A single image gets no reader.
"""
import os
from dataclasses import dataclass

from pyiqa_uniqa.apps.free_cores import free_cores

KINDS = ('pixel', 'tower', 'language')
# pyiqa's language-model metrics (name prefixes) run one image at a time everywhere, as pyiqa's own tests do
ONE_AT_A_TIME = ('depictqa', 'qalign', 'compare2score', 'qrealign')
GPU_BATCH_SIZE = 32
MAX_READERS = 8


@dataclass(frozen=True)
class RunDefaults:
    threads: int  # torch intra-op threads of the scoring process
    readers: int  # image-reading worker processes (0: read in the scoring process)
    batch_size: int  # images per forward pass

    def __str__(self):
        return (f'{self.threads} thread{"s" * (self.threads != 1)}, {self.readers} reader{"s" * (self.readers != 1)}, '
                f'batch {self.batch_size}')


def usable_cores():
    """Cores this process may run on (its affinity mask, else the machine's count), shared out among the
    processes torchrun started on this machine (``LOCAL_WORLD_SIZE``), so ranks do not oversubscribe it."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
    return max(1, cores // _local_ranks())


def _local_ranks():
    return max(1, int(os.environ.get('LOCAL_WORLD_SIZE', '1')))


def free_usable_cores():
    """``usable_cores()`` less those other processes keep busy; torchrun's ranks already share the cores
    out among themselves (and would count each other as the load), so there it is ``usable_cores()``."""
    usable = usable_cores()
    return usable if _local_ranks() > 1 else free_cores(usable)


def metric_kind(metric, name=''):
    """``'pixel'``, ``'tower'`` or ``'language'`` for a created pyiqa metric (``name``: its pyiqa name)."""
    net = getattr(metric, 'net', metric)
    if name.startswith(ONE_AT_A_TIME) or callable(getattr(net, 'describe', None)):
        return 'language'
    return 'tower' if any(True for _ in net.parameters()) else 'pixel'


def run_defaults(kind, device='cpu', free=None, images=None):
    """The ``RunDefaults`` for a metric ``kind`` on ``device`` with ``free`` free cores (default: counted
    now, ``free_usable_cores``); ``images``: how many will be scored, when known (one gets no reader)."""
    batch_size = default_batch_size(kind, device)
    free = free or free_usable_cores()
    if str(device).startswith('cuda'):
        threads, readers = 1, min(MAX_READERS, max(1, free - 1))
    else:
        threads = free
        readers = 0 if kind == 'language' or free <= 2 else 1
    if images is not None and images <= 1:
        readers = 0
    return RunDefaults(threads, readers, batch_size)


def default_batch_size(kind, device='cpu'):
    """The batch size of ``run_defaults``, which depends on the kind and the device only (no core count)."""
    if kind not in KINDS:
        raise ValueError(f'kind must be one of {KINDS}, not {kind!r}')
    return GPU_BATCH_SIZE if str(device).startswith('cuda') and kind != 'language' else 1


def settle(kind, device, threads=None, readers=None, batch_size=None, images=None):
    """``run_defaults`` with the user's choices (None: not given) kept, and the thread count applied to
    torch; -> the ``RunDefaults`` in force."""
    import torch

    if threads and readers is not None and batch_size:  # all given: nothing to count
        chosen = RunDefaults(threads, readers, batch_size)
    else:
        defaults = run_defaults(kind, device, images=images)
        chosen = RunDefaults(threads or defaults.threads, defaults.readers if readers is None else readers,
                             batch_size or defaults.batch_size)
    if torch.get_num_threads() != chosen.threads:
        torch.set_num_threads(chosen.threads)
    return chosen
