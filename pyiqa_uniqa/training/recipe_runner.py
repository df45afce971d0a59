"""Run a training recipe in this process and measure it: wall time, frozen-tower images, every
validation score.

The loop is pyiqa's ``train_pipeline`` without its loggers and checkpoint files: build the
datasets, loaders and model from the options, then feed, step, update the learning rate and
validate every ``val_freq`` iterations and at the end. ``pyiqa-uniqa bench-train`` and the tests
of the training step and the feature cache run recipes through it.
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
from pyiqa.data.data_sampler import EnlargedSampler
from pyiqa.metrics import calculate_metric
from pyiqa.models import build_model
from pyiqa.utils import set_random_seed

from pyiqa_uniqa.backbones.frozen import FrozenTowerModule, has_frozen_features
from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.files import write_file
from pyiqa_uniqa.options import load_yaml
from pyiqa_uniqa.safe_pickle import load_plain_pickle
from pyiqa_uniqa.training.pipeline import normalize_options

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
    validations: list = field(default_factory=list)  # [(iteration, {metric: value})]
    val_scores: list = field(default_factory=list)  # one tensor of predicted scores per validation
    held_out: dict = field(default_factory=dict)  # {metric: value} of the last weights on the test split
    summaries: list = field(default_factory=list)  # what the feature caches logged last


def with_options(opt, **sections):
    """``opt`` with keys set per section, e.g. ``with_options(opt, val={'feature_cache': True})``."""
    return {**opt, **{section: {**opt.get(section, {}), **values} for section, values in sections.items()}}


def recipe_options(path, workdir, total_epoch=None, overrides=None):
    """A recipe as pyiqa's option parser leaves it for a one-process CPU run, files under ``workdir``;
    ``overrides``: ``section:key=value`` entries, as ``--force_yml`` takes them."""
    # what pyiqa's parser derives (train.py's own normalize_options), then a one-process CPU run here
    opt = normalize_options(load_yaml(path), SimpleNamespace(opt=path, force_yml=overrides, auto_resume=False,
                                                              debug=False))
    workdir = Path(workdir)
    opt.update(dist=False, rank=0, world_size=1, num_gpu=0, root_path=str(workdir))
    opt['path'] = {**(opt.get('path') or {}), 'experiments_root': str(workdir),
                   'models': str(workdir / 'models'), 'training_states': str(workdir / 'training_states')}
    if total_epoch:
        opt['train']['total_epoch'] = total_epoch
        if 'T_max' in opt['train'].get('scheduler', {}):
            opt['train']['scheduler']['T_max'] = total_epoch
    return opt


class TowerImageCounter:
    """Counts images entering the first convolution of a network's frozen towers (a ViT's patch
    embedding, a CNN's stem): one per image or crop encoded, under the current ``phase``."""

    def __init__(self, counts):
        self.counts, self.phase = counts, 'train'

    @contextlib.contextmanager
    def attached(self, net):
        towers = net.frozen_towers().values() if isinstance(net, FrozenTowerModule) else ()
        stems = [next((m for m in tower.modules() if isinstance(m, torch.nn.Conv2d)), None) for tower in towers]
        handles = [stem.register_forward_pre_hook(self.count) for stem in stems if stem is not None]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def count(self, module, inputs):
        self.counts[self.phase] += inputs[0].shape[0]


def build_loaders(opt):
    train_opt = opt['datasets']['train']
    train_set = build_dataset(train_opt)
    sampler = EnlargedSampler(train_set, 1, 0, train_opt.get('dataset_enlarge_ratio', 1),
                              train_opt.get('use_shuffle', True))
    train_loader = build_dataloader(train_set, train_opt, num_gpu=0, dist=False, sampler=sampler,
                                    seed=opt['manual_seed'])
    val_loaders = [build_dataloader(build_dataset(d), d, num_gpu=0, dist=False, sampler=None, seed=opt['manual_seed'])
                   for phase, d in opt['datasets'].items() if phase.startswith('val')]
    return train_loader, sampler, val_loaders


def iterations(opt, train_loader):
    epochs = opt['train'].get('total_epoch')
    return int(epochs) * len(train_loader) if epochs is not None else int(opt['train']['total_iter'])


def run_training(opt, label, val_freq=None, progress=None, held_out=None):
    """Train by ``opt`` (see ``recipe_options``) and return a ``TrainRun``; ``held_out``: a loader
    scored with the last weights after training (outside the timing)."""
    set_random_seed(opt['manual_seed'])
    train_loader, sampler, val_loaders = build_loaders(opt)
    total_iter = iterations(opt, train_loader)
    val_freq = val_freq or opt['val']['val_freq']
    run = TrainRun(label)
    Path(opt['path']['models']).mkdir(parents=True, exist_ok=True)  # "best" checkpoints land there
    model = build_model(opt)
    start, cpu_start = time.perf_counter(), time.process_time()
    with TowerImageCounter(run.tower_images).attached(model.get_bare_model(model.net)) as counter:
        current_iter, epoch = 0, 0
        while current_iter < total_iter:
            sampler.set_epoch(epoch)
            for data in train_loader:
                current_iter += 1
                model.update_learning_rate(current_iter, warmup_iter=opt['train'].get('warmup_iter', -1))
                model.feed_data(data)
                counter.phase = 'train'
                model.optimize_parameters(current_iter)
                if current_iter % val_freq == 0 or current_iter == total_iter:
                    counter.phase = 'val'
                    validate(model, val_loaders, current_iter, run)
                    if progress:
                        progress(run)
                if current_iter >= total_iter:
                    break
            epoch += 1
    run.wall_s, run.cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    run.summaries = [cache.summary() for cache in (model.feature_cache, model.feature_reuse)
                     if cache is not None and cache.context is not None]
    if held_out is not None:
        run.held_out = score_held_out(model, held_out)
    return run


def runs_without_and_with_feature_cache(opt, **kwargs):
    """The same run twice, validation feature cache off then on (``run_training``'s other arguments
    in ``kwargs``): the pair the cache's exactness is checked on."""
    return tuple(run_training(with_options(opt, val={'feature_cache': cache}), f'cache {cache}', **kwargs)
                 for cache in (False, True))


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


def held_out_loader(opt):
    """A loader over the test part of the validation dataset's split, or None without one."""
    dataset_opt = {**opt['datasets']['val'], 'phase': 'test'}
    try:
        dataset = build_dataset(dataset_opt)
    except KeyError:  # pyiqa's split lookup: the split file has no 'test' part
        return None
    return build_dataloader(dataset, dataset_opt, num_gpu=0, dist=False, sampler=None, seed=opt['manual_seed'])


def validate(model, val_loaders, current_iter, run):
    scores = []
    test = model.test

    def recording_test():  # keep every score, to compare runs exactly (pyiqa keeps only the metrics)
        test()
        scores.append(model.output_score.detach().float().cpu())

    model.test = recording_test
    try:
        for loader in val_loaders:
            model.validation(loader, current_iter, None, False)
            run.validations.append((current_iter, dict(model.metric_results)))
    finally:
        del model.test
    run.val_scores.append(torch.cat(scores))


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
    """Validate on ``count`` rows of the validation split, drawn with the recipe's seed: a split file
    like the recipe's, written under ``workdir``, whose 'val' part holds only those rows."""
    split_file, index = dataset.opt.get('split_file'), dataset.opt.get('split_index', 1)
    if not split_file:
        raise UserError(f'bench-train validates on part of {dataset.opt["name"]} and needs its split_file to '
                        'choose that part; give the recipe one.')
    split = load_plain_pickle(split_file)
    rows = list(split[index]['val'])
    chosen = sorted(random.Random(opt['manual_seed']).sample(rows, count))
    path = Path(workdir) / 'bench_split.pkl'
    write_file(path, pickle.dumps({**split, index: {**split[index], 'val': chosen}}))
    opt['datasets']['val'] = {**opt['datasets']['val'], 'split_file': str(path), 'split_index': index}


def tower_images_per_validation_pass(opt, val_loaders):
    """Images (crops) one validation pass sends through the frozen towers. The views of an image
    depend only on its size (the frozen-feature protocol), so one image of each size is encoded."""
    net = build_network(opt['network']).eval()
    if not has_frozen_features(net):
        raise UserError(f'{net.__class__.__name__} does not implement the frozen-feature protocol '
                        '(pyiqa_uniqa/backbones/frozen.py): its validation features cannot be cached, so '
                        'there is nothing to compare.')
    sizes, samples = Counter(), {}
    for loader in val_loaders:
        for data in loader:
            for image in data['img']:
                sizes[image.shape] += 1
                samples.setdefault(image.shape, image)
    total = 0
    for shape, count in sizes.items():
        counts = {'val': 0}
        with TowerImageCounter(counts).attached(net) as counter, torch.no_grad():
            counter.phase = 'val'
            net(samples[shape][None])
        total += counts['val'] * count
    return total


def benchmark_options(recipe, workdir, epochs=None, val_ratio=OFFICIAL_VAL_RATIO, val_passes=OFFICIAL_VAL_PASSES,
                      overrides=None):
    """(options, val_freq, a line saying what will run) for timing ``recipe`` under ``workdir``: its
    ``val`` dataset cut to the images that ``val_passes`` passes at ``val_ratio`` take (see
    ``official_validation``). The dataset is built first, outside any timing."""
    opt = recipe_options(recipe, workdir / 'experiment', epochs, overrides)
    opt['datasets'] = {phase: d for phase, d in opt['datasets'].items() if phase in ('train', 'val')}
    for dataset in opt['datasets'].values():
        dataset['dataroot_target'] = str(workdir / 'datasets' / Path(dataset['dataroot_target']).name)
    train_loader, _, (val_loader,) = build_loaders(opt)
    total_iter = iterations(opt, train_loader)
    train_forwards = total_iter * opt['datasets']['train']['batch_size_per_gpu']
    all_images = len(val_loader.dataset)
    crops_per_image = tower_images_per_validation_pass(opt, [val_loader]) / all_images
    images, passes = official_validation(train_forwards, all_images, crops_per_image, val_ratio, val_passes)
    if images < all_images:
        validation_subset(opt, val_loader.dataset, images, workdir)
    val_freq = math.ceil(total_iter / passes)
    plan = (f'{recipe}: {total_iter} iterations of {opt["datasets"]["train"]["batch_size_per_gpu"]} images '
            f'({train_forwards} training forwards); validation every {val_freq} iterations on {images} of the '
            f'{all_images} validation images x {crops_per_image:.3g} frozen-tower crops '
            f'(~{passes * images * crops_per_image / train_forwards:.2f} validation crop forwards per training '
            'forward)')
    return opt, val_freq, plan
