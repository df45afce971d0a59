"""Train a recipe exactly as ``pyiqa-uniqa train`` does and measure the run: wall and CPU time,
frozen-tower images per phase, every validation's numbers and predicted scores.

``run_recipe`` calls ``pipeline.train_in_process`` (pyiqa's own loop) with ``MeasuringCallbacks``;
``pyiqa-uniqa bench-train`` and the tests of the training step and the feature cache use it, so
what they check is what the train command runs.
"""
import contextlib
import math
import pickle
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import torch
from pyiqa.archs import build_network
from pyiqa.data import build_dataloader, build_dataset
from pyiqa.metrics import calculate_metric

from pyiqa_uniqa.backbones.frozen import FrozenTowerModule, has_frozen_features
from pyiqa_uniqa.errors import InvalidOptionError
from pyiqa_uniqa.files import write_file
from pyiqa_uniqa.options import load_yaml
from pyiqa_uniqa.safe_pickle import load_plain_pickle
from pyiqa_uniqa.training.pipeline import TrainingCallbacks, normalize_options, train_in_process

# the official UniQA KonIQ recipe: 8,058 training images in batches of 8 for 20 epochs (~20k
# iterations, ~161k forwards), 2,015 validation images of 10 crops every 2,000 iterations: 10
# passes, ~200k crop forwards, 1.25 per training forward
OFFICIAL_VAL_RATIO = 1.25
OFFICIAL_VAL_PASSES = 10


@dataclass
class TrainRun:
    label: str
    wall_s: float = 0.0
    cpu_s: float = 0.0  # this process's CPU time: with torch on one thread, the compute, whatever the load
    tower_images: dict = field(default_factory=lambda: {'train': 0, 'val': 0})
    validations: list = field(default_factory=list)  # [(iteration, {metric: value})], one per pass
    val_scores: list = field(default_factory=list)  # one tensor of predicted scores per validation pass
    held_out: dict = field(default_factory=dict)  # {metric: value} of the last weights on the test split
    summaries: list = field(default_factory=list)  # what the feature caches logged last


class TowerImageCounter:
    """Counts images entering the first convolution of a network's frozen towers (a ViT's patch
    embedding, a CNN's stem): one per image or crop encoded, under 'train' or 'val' by the
    network's mode (pyiqa's model puts it in eval mode to validate)."""

    def __init__(self, counts, net):
        self.counts, self.net = counts, net

    @contextlib.contextmanager
    def attached(self):
        towers = self.net.frozen_towers().values() if isinstance(self.net, FrozenTowerModule) else ()
        stems = [next((m for m in tower.modules() if isinstance(m, torch.nn.Conv2d)), None) for tower in towers]
        handles = [stem.register_forward_pre_hook(self.count) for stem in stems if stem is not None]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def count(self, module, inputs):
        self.counts['train' if self.net.training else 'val'] += inputs[0].shape[0]


class MeasuringCallbacks(TrainingCallbacks):
    """Fills a ``TrainRun`` from inside the training loop; ``progress(run)`` after each validation."""

    def __init__(self, run, progress=None):
        self.run, self.progress, self.model = run, progress, None
        self.scores, self.stack = [], contextlib.ExitStack()

    def started(self, model, total_iters):
        self.model = model
        net = model.get_bare_model(model.net)
        self.stack.enter_context(TowerImageCounter(self.run.tower_images, net).attached())
        test = model.test

        def recording_test():  # keep every score, to compare runs exactly (pyiqa keeps only the metrics)
            test()
            self.scores.append(model.output_score.detach().float().cpu())
        model.test = recording_test
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def validated(self, model, iteration, dataset, results):
        self.run.validations.append((iteration, results))
        self.run.val_scores.append(torch.cat(self.scores))
        self.scores = []
        if self.progress:
            self.progress(self.run)

    def finished(self):
        self.run.wall_s, self.run.cpu_s = time.perf_counter() - self.wall, time.process_time() - self.cpu
        self.stack.close()
        del self.model.test
        self.run.summaries = [cache.summary() for cache in (self.model.feature_cache, self.model.feature_reuse)
                              if cache is not None and cache.context is not None]


def run_recipe(recipe, root, overrides=(), label='', progress=None, held_out=None):
    """Train ``recipe`` with ``--force_yml overrides`` under ``root`` as the train command does; -> a
    ``TrainRun``. ``held_out``: a loader scored with the last weights after training (outside the timing)."""
    run = TrainRun(label)
    callbacks = MeasuringCallbacks(run, progress)
    args = SimpleNamespace(opt=str(recipe), force_yml=list(overrides), auto_resume=False, debug=False,
                           launcher='none', local_rank=0, strict_options=False)
    train_in_process(args, callbacks, root=root)
    callbacks.finished()
    if held_out is not None:
        run.held_out = score_held_out(callbacks.model, held_out)
    return run


def runs_without_and_with_feature_cache(recipe, root, overrides=(), **kwargs):
    """The same run twice, validation feature cache off then on (``run_recipe``'s other arguments in
    ``kwargs``): the pair the cache's exactness is checked on."""
    return tuple(run_recipe(recipe, Path(root) / f'cache_{cache}', [*overrides, f'val:feature_cache={cache}'],
                            f'cache {cache}', **kwargs) for cache in (False, True))


def recipe_options(path, workdir, overrides=None):
    """A recipe's options as pyiqa's parser leaves them for a one-process CPU run with its files under
    ``workdir``, for building its datasets or model directly (nothing is trained)."""
    opt = normalize_options(load_yaml(path), SimpleNamespace(opt=path, force_yml=overrides, auto_resume=False,
                                                              debug=False))
    workdir = Path(workdir)
    opt.update(dist=False, rank=0, world_size=1, num_gpu=0, root_path=str(workdir))
    opt.setdefault('manual_seed', 0)
    opt['path'] = {**(opt.get('path') or {}), 'experiments_root': str(workdir),
                   'models': str(workdir / 'models'), 'training_states': str(workdir / 'training_states')}
    return opt


def score_held_out(model, loader):
    predicted, target = [], []
    for data in loader:
        model.feed_data(data)
        model.test()
        predicted.append(model.output_score.float().flatten().cpu())
        target.append(model.gt_mos.float().flatten().cpu())
    predicted, target = torch.cat(predicted).numpy(), torch.cat(target).numpy()
    return {name: float(calculate_metric([predicted, target], metric_opt))
            for name, metric_opt in model.opt['val']['metrics'].items()}


def _loader(opt, dataset_opt):
    return build_dataloader(build_dataset(dataset_opt), dataset_opt, num_gpu=0, dist=False, sampler=None,
                            seed=opt['manual_seed'])


def held_out_loader(opt):
    """A loader over the test part of the validation dataset's split, or None without one."""
    try:
        return _loader(opt, {**opt['datasets']['val'], 'phase': 'test'})
    except KeyError:  # pyiqa's split lookup: the split file has no 'test' part
        return None


def official_validation(train_forwards, val_images, crops_per_image, ratio=OFFICIAL_VAL_RATIO,
                        passes=OFFICIAL_VAL_PASSES):
    """(validation images, passes) so that ``passes`` validations encode about ``ratio`` x
    ``train_forwards`` crops, as the official recipe does; when even every validation image is too
    few, all of them, validated as often as the ratio allows (at least once)."""
    wanted = ratio * train_forwards / passes / crops_per_image
    if wanted < val_images:
        return max(1, round(wanted)), passes
    return val_images, max(1, round(ratio * train_forwards / (val_images * crops_per_image)))


def validation_subset(opt, dataset, count, workdir):
    """``--force_yml`` entries that validate on ``count`` rows of the validation split, drawn with the
    recipe's seed: a split file like the recipe's, written under ``workdir``, whose 'val' part holds only those."""
    split_file, index = dataset.opt.get('split_file'), dataset.opt.get('split_index', 1)
    if not split_file:
        raise InvalidOptionError(f'bench-train validates on part of {dataset.opt["name"]} and needs its split_file '
                                 'to choose that part; give the recipe one.')
    split = load_plain_pickle(split_file)
    rows = list(split[index]['val'])
    chosen = sorted(random.Random(opt['manual_seed']).sample(rows, count))
    path = Path(workdir) / 'bench_split.pkl'
    write_file(path, pickle.dumps({**split, index: {**split[index], 'val': chosen}}))
    return [f'datasets:val:split_file={path}', f'datasets:val:split_index={index}']


def tower_images_per_validation_pass(opt, val_loader):
    """Images (crops) one validation pass sends through the frozen towers. The views of an image
    depend only on its size (the frozen-feature protocol), so one image of each size is encoded."""
    net = build_network(opt['network']).eval()
    if not has_frozen_features(net):
        raise InvalidOptionError(f'{net.__class__.__name__} does not implement the frozen-feature protocol '
                                 '(pyiqa_uniqa/backbones/frozen.py): its validation features cannot be cached, so '
                                 'there is nothing to compare.')
    sizes, samples = Counter(), {}
    for data in val_loader:
        for image in data['img']:
            sizes[image.shape] += 1
            samples.setdefault(image.shape, image)
    total = 0
    for shape, count in sizes.items():
        counts = {'train': 0, 'val': 0}
        with TowerImageCounter(counts, net).attached(), torch.no_grad():
            net(samples[shape][None])
        total += counts['val'] * count
    return total


def benchmark_plan(recipe, workdir, epochs=None, val_ratio=OFFICIAL_VAL_RATIO, val_passes=OFFICIAL_VAL_PASSES,
                   overrides=None):
    """(``--force_yml`` entries, the planned options, a line saying what will run) for timing ``recipe``
    under ``workdir``: its datasets built there, its ``val`` dataset cut to the images that ``val_passes``
    passes at ``val_ratio`` take (see ``official_validation``). The datasets are built first, outside any timing."""
    opt = recipe_options(recipe, workdir / 'plan', overrides)
    phases = sorted(opt['datasets'])
    if phases != ['train', 'val']:
        raise InvalidOptionError(f'{recipe}: bench-train times recipes with one train and one val dataset; '
                                 f'this one has {", ".join(phases)}.')
    entries = list(overrides or [])
    for phase, dataset in opt['datasets'].items():
        dataset['dataroot_target'] = str(workdir / 'datasets' / Path(dataset['dataroot_target']).name)
        entries.append(f'datasets:{phase}:dataroot_target={dataset["dataroot_target"]}')
    if epochs:
        entries.append(f'train:total_epoch={epochs}')
        if 'T_max' in opt['train'].get('scheduler', {}):
            entries.append(f'train:scheduler:T_max={epochs}')
        opt['train']['total_epoch'] = epochs
    train_opt = opt['datasets']['train']
    iterations_per_epoch = math.ceil(len(build_dataset(train_opt)) / train_opt['batch_size_per_gpu'])
    total_iter = (int(opt['train']['total_epoch']) * iterations_per_epoch if opt['train'].get('total_epoch')
                  else int(opt['train']['total_iter']))
    train_forwards = total_iter * train_opt['batch_size_per_gpu']
    val_loader = _loader(opt, opt['datasets']['val'])
    all_images = len(val_loader.dataset)
    crops_per_image = tower_images_per_validation_pass(opt, val_loader) / all_images
    images, passes = official_validation(train_forwards, all_images, crops_per_image, val_ratio, val_passes)
    if images < all_images:
        subset = validation_subset(opt, val_loader.dataset, images, workdir)
        entries += subset
        opt = recipe_options(recipe, workdir / 'plan', entries)
    val_freq = math.ceil(total_iter / passes)
    entries.append(f'val:val_freq={val_freq}')
    plan = (f'{recipe}: {total_iter} iterations of {train_opt["batch_size_per_gpu"]} images '
            f'({train_forwards} training forwards); validation every {val_freq} iterations and at the end on '
            f'{images} of the {all_images} validation images x {crops_per_image:.3g} frozen-tower crops '
            f'(~{passes * images * crops_per_image / train_forwards:.2f} validation crop forwards per training '
            'forward)')
    return entries, opt, plan
