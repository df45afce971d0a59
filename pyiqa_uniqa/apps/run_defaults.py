"""Torch threads, image-reading processes and batch size when the user gives none.

Every command that runs metrics over many images (``score``, ``compare``, ``rank``, ``eval``, ``label``,
``score_images`` and the app) asks ``run_defaults`` once its model exists, so the defaults follow what
the model is and how many cores this process may use (``os.sched_getaffinity``: a container's or
``taskset``'s limit, not the machine's core count). Flags the user gives always win.

Metric kinds, told apart by the built network (``metric_kind``):
- ``'pixel'``: no learned parameters (pyiqa's classical metrics: psnr, ssim, niqe, brisque, piqe, ...).
  Many small kernels per image, so extra intra-op threads mostly synchronise; decoding the image is a
  large share of the work and runs in reader processes beside the metric.
- ``'tower'``: a learned network (CLIP towers, timm backbones, pyiqa's deep metrics). Large matrix
  products that split well over threads; decoding is a small share.
- ``'language'``: a language model (DepictQA, Q-Align, ...): one image at a time, seconds per image;
  decoding is negligible.

The rule on a CPU (``cores`` = cores this process may use), chosen from the table in docs/speed.md
(``pyiqa-uniqa bench --defaults`` prints it):
- pixel: 1 torch thread and ``cores - 1`` readers (at least 1 reader, at most 8); batch 1.
- tower: ``cores`` torch threads and 1 reader; batch 1 (a CPU gains nothing from batching these).
- language: ``cores`` torch threads, no reader; batch 1.
Batching does not make most metrics faster on a CPU and makes some slower (pyiqa's piqe: 77 -> 144 ms per
512x512 image at batch 4, one thread); UniQA already batches an image's crops.
With a GPU the CPU only reads and feeds: 1 torch thread, ``min(8, cores - 1)`` readers, batch 32
(language models: 1). A reader is worth its start-up only when there is more than one image.
"""
import os
from dataclasses import dataclass

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


def usable_cores():
    """Cores this process may run on (its affinity mask, else the machine's count), shared out among the
    processes torchrun started on this machine (``LOCAL_WORLD_SIZE``), so ranks do not oversubscribe it."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
    return max(1, cores // max(1, int(os.environ.get('LOCAL_WORLD_SIZE', '1'))))


def metric_kind(metric, name=''):
    """``'pixel'``, ``'tower'`` or ``'language'`` for a created pyiqa metric (``name``: its pyiqa name)."""
    net = getattr(metric, 'net', metric)
    if name.startswith(ONE_AT_A_TIME) or callable(getattr(net, 'describe', None)):
        return 'language'
    return 'tower' if any(True for _ in net.parameters()) else 'pixel'


def run_defaults(kind, device='cpu', cores=None, images=None):
    """The ``RunDefaults`` for a metric ``kind`` on ``device`` with ``cores`` usable cores (default: this
    process's); ``images``: how many will be scored, when known (a single image gets no reader)."""
    if kind not in KINDS:
        raise ValueError(f'kind must be one of {KINDS}, not {kind!r}')
    cores = cores or usable_cores()
    gpu = str(device).startswith('cuda')
    batch_size = 1 if kind == 'language' or not gpu else GPU_BATCH_SIZE
    if gpu:
        threads, readers = 1, min(MAX_READERS, max(1, cores - 1))
    elif kind == 'pixel':
        threads, readers = 1, min(MAX_READERS, max(1, cores - 1))
    elif kind == 'tower':
        threads, readers = cores, 1
    else:
        threads, readers = cores, 0
    if images is not None and images <= 1:
        readers = 0
    return RunDefaults(threads, readers, batch_size)


def settle(kind, device, threads=None, readers=None, batch_size=None, images=None):
    """``run_defaults`` with the user's choices (None: not given) kept, and the thread count applied to
    torch; -> the ``RunDefaults`` in force."""
    import torch

    chosen = run_defaults(kind, device, images=images)
    chosen = RunDefaults(threads or chosen.threads, chosen.readers if readers is None else readers,
                         batch_size or chosen.batch_size)
    if torch.get_num_threads() != chosen.threads:
        torch.set_num_threads(chosen.threads)
    return chosen
