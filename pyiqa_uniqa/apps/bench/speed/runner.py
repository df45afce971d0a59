"""Time and measure each metric on the same images: load time, latency, throughput, memory.

- latency: every image at its own resolution, ``warmup`` untimed runs then ``repeats`` timed ones;
  the figure is the median over images of each image's median time (min and max over images too);
  both wall-clock time and process CPU time (summed over threads: with one torch thread it is the
  compute time, unaffected by other jobs sharing the machine; not reported on CUDA);
- throughput: a batch of ``batch_size`` images resized to ``size`` x ``size`` (aspect not kept:
  content does not matter for timing), images per second from the median batch time;
- memory: RSS above the level before the metric was created, once it is loaded and at the peak of
  the whole measurement (see ``memory.py``); on CUDA also ``torch.cuda.max_memory_allocated``.
Full-reference metrics compare each image with a copy of itself with seeded Gaussian noise
(sigma 0.05), so they do real work. Gradients are off, as in pyiqa inference.
"""
import statistics
import sys
import time
from dataclasses import dataclass

from tqdm import tqdm

from pyiqa_uniqa.apps.metrics.failures import (
    FAILED,
    MISSING_WEIGHTS,
    OK,
    describe_error,
    is_missing_weights,
)
from pyiqa_uniqa.apps.bench.speed.memory import (
    peak_rss_mib,
    release_freed_memory,
    reset_peak_rss,
    rss_mib,
)

NOISE_SIGMA = 0.05


@dataclass
class BenchSettings:
    device: str = 'cpu'
    warmup: int = 1
    repeats: int = 5
    batch_size: int = 4
    size: int = 224
    progress: bool = True  # a bar over the images while latency is measured


@dataclass
class BenchResult:
    metric: str
    status: str
    message: str = ''
    mode: str = ''
    load_s: float = float('nan')
    latency_ms: float = float('nan')  # median over images of per-image medians
    latency_min_ms: float = float('nan')
    latency_max_ms: float = float('nan')
    latency_cpu_ms: float = float('nan')  # the same, in process CPU time (CPU devices only)
    throughput: float = float('nan')  # images per second at batch_size, size x size
    throughput_cpu: float = float('nan')  # images per CPU second (CPU devices only)
    model_rss_mib: float = float('nan')
    peak_rss_mib: float = float('nan')
    gpu_peak_mib: float = float('nan')
    peak_is_lifetime: bool = False  # the platform could not reset the RSS peak


def _synchronize(device):
    import torch
    if str(device).startswith('cuda'):
        torch.cuda.synchronize(device)


def _noisy_copy(image):
    import torch
    generator = torch.Generator().manual_seed(0)
    return (image + NOISE_SIGMA * torch.randn(image.shape, generator=generator)).clamp(0, 1)


def _seconds(run, device):
    """``(wall-clock, process CPU)`` seconds of one ``run()``."""
    _synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    _synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def _inputs(metric, image, device):
    """The arguments of one call for a CPU ``image``: ``(target,)`` or ``(noisy target, reference)``."""
    if metric.metric_mode == 'FR':
        return _noisy_copy(image).to(device), image.to(device)
    return (image.to(device),)


def _time_calls(metric, inputs, settings):
    import torch

    def call():
        with torch.no_grad():
            metric(*inputs)
    for _ in range(settings.warmup):
        call()
    timings = [_seconds(call, settings.device) for _ in range(settings.repeats)]
    return statistics.median(t[0] for t in timings), statistics.median(t[1] for t in timings)


def _batch(images, settings):
    import torch
    import torch.nn.functional as F

    picked = [images[i % len(images)][1] for i in range(settings.batch_size)]
    return torch.cat([F.interpolate(img, size=(settings.size, settings.size), mode='bilinear',
                                    antialias=True, align_corners=False).clamp(0, 1) for img in picked])


def measure_metric(spec, images, settings):
    """One ``BenchResult`` for ``spec`` (a MetricSpec) on ``images`` ([(name, 1x3xHxW tensor)])."""
    import pyiqa
    import torch

    cuda = str(settings.device).startswith('cuda')
    release_freed_memory()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(settings.device)
    resettable = reset_peak_rss()
    baseline = rss_mib()
    start = time.perf_counter()
    try:
        metric = pyiqa.create_metric(spec.name, device=settings.device, **spec.options)
    except Exception as err:  # noqa: BLE001 - missing weights, bad options: report the row
        status = MISSING_WEIGHTS if is_missing_weights(err) else FAILED
        return BenchResult(spec.label, status, describe_error(err))
    result = BenchResult(spec.label, OK, mode=metric.metric_mode, load_s=time.perf_counter() - start,
                         model_rss_mib=rss_mib() - baseline, peak_is_lifetime=not resettable)
    try:
        timed = tqdm(images, desc=f'{spec.label}: latency', unit='img', file=sys.stderr, leave=False,
                     disable=not settings.progress)
        per_image = [_time_calls(metric, _inputs(metric, image, settings.device), settings) for _, image in timed]
        wall = [t[0] for t in per_image]
        result.latency_ms = 1000 * statistics.median(wall)
        result.latency_min_ms, result.latency_max_ms = 1000 * min(wall), 1000 * max(wall)
        batch_wall, batch_cpu = _time_calls(metric, _inputs(metric, _batch(images, settings), settings.device),
                                            settings)
        result.throughput = settings.batch_size / batch_wall
        if not cuda:
            result.latency_cpu_ms = 1000 * statistics.median(t[1] for t in per_image)
            result.throughput_cpu = settings.batch_size / max(batch_cpu, 1e-9)
    except Exception as err:  # noqa: BLE001 - a crash in one metric must not stop the others
        result.status, result.message = FAILED, describe_error(err)
    result.peak_rss_mib = peak_rss_mib() - baseline
    if cuda:
        result.gpu_peak_mib = torch.cuda.max_memory_allocated(settings.device) / 2 ** 20
    del metric
    release_freed_memory()
    return result
