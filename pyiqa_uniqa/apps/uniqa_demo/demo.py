"""``pyiqa-uniqa demo``: UniQA's whole recipe, offline on a CPU, on photos that ship with installed packages.

The stages, as in the paper (each prints its progress; the held-out photos are read only by scoring):

a. the photo dataset: every bundled colour photo (``pyiqa_uniqa.data.photos``) with synthetic
   distortions, split by photo into train / val / test (built once, reused);
b. MOS-level-guided captions of the train photos (``pyiqa-uniqa caption``): the template captioner
   stands in for the MLLM, or ``--captioner <Hugging Face model>`` runs a real one;
c. contrastive pre-training of both towers of a tiny CLIP on those image-text pairs
   (``pyiqa-uniqa train`` on ``demo_pretrain.yml``), checkpoint chosen by zero-shot SRCC on the val
   photos, then exported in the official backbone layout (``pyiqa-uniqa export-backbone``);
d. zero-shot scoring of the held-out photos with the official level prompts ("bad image" ...; the
   ``uniqa-level`` metric) and with the level sentence the captions open with ("The quality of the
   image is bad." ...; ``prompt_set='caption-level'``), the words pre-training taught;
e. adapter training on the pre-trained backbone (``pyiqa-uniqa train`` on ``demo.yml``), and, as the
   baseline, on the random backbone that pre-training started from (run beside stage c);
f. final scoring: held-out SRCC/PLCC after each stage and of pyiqa's classical ``piqe`` (no training),
   overall and per distortion, one figure, and the lines that reuse the result.

``--quick`` runs a, e (random backbone) and f; ``--backbone-weights UniQA_weight.pt`` runs a, d, e and
f on the official ViT-B/16 (224-pixel crops, no pre-training). Everything is written under
``--workdir``; a rerun reuses the dataset and the captions and trains again from the same seeds, so
it prints the same results table.
"""
import inspect
import shutil
import time
from pathlib import Path

import pyiqa
import torch
import yaml

from pyiqa_uniqa.backbones import clip_reference_state_dict
from pyiqa_uniqa.backbones.clip import read_openai_weights
from pyiqa_uniqa.data.photo_datasets import build_nr_dataset
from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.options import load_yaml
from pyiqa_uniqa.uniqa.arch import UNIQA_CLIP, UniQA
from pyiqa_uniqa.apps.uniqa_demo.demo_report import (
    HeldOut,
    distortion_table,
    evaluate,
    frozen_features,
    results_table,
    reuse_lines,
    save_figure,
    timing_table,
)
from pyiqa_uniqa.apps.uniqa_demo.demo_training import TrainingJob, say
from pyiqa_uniqa.uniqa_pretrain.caption_prompts import CaptionPrompts
from pyiqa_uniqa.apps.caption import caption_images, read_image_table
from pyiqa_uniqa.uniqa_pretrain.captioning_models import TEMPLATE_MODEL, build_captioner
from pyiqa_uniqa.apps.export_backbone import export_backbone

ADAPTER_RECIPE = Path(__file__).with_name('demo.yml')
PRETRAIN_RECIPE = Path(__file__).with_name('demo_pretrain.yml')
DATASET = 'datasets/uniqa_demo_photos'
BACKBONE_FILE = 'uniqa_demo_backbone.pt'
ADAPTER_FILE = 'uniqa_demo_adapter.pth'
FIGURE_FILE = 'uniqa_demo_stages.png'
# the official protocol, as far as a CPU allows: 224-pixel crops, the five fixed crops (not ten)
OFFICIAL_NETWORK = {'model_name': UNIQA_CLIP, 'crop_size': 224, 'test_crops': 'five'}
# zero-shot prompts: the official words, and the level sentence the pre-training captions open with
ZERO_SHOT_PROMPTS = {'level': 'official prompts', 'caption-level': 'caption prompts'}
BASELINE = 'piqe'  # pyiqa's classical no-reference metric: no training, no weights
BASELINE_LABEL = f'{BASELINE} (pyiqa, classical, no training)'


def add_arguments(parser):
    parser.add_argument('--workdir', default='uniqa_demo',
                        help='folder for the dataset, captions, experiments, backbone, adapter and figure '
                             '(default: ./uniqa_demo)')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--quick', action='store_true',
                      help='only train the adapter on the random backbone (stages a, e, f)')
    mode.add_argument('--backbone-weights', default=None,
                      help='the official UniQA_weight.pt (ViT-B/16): zero-shot and adapter on it, no pre-training')
    parser.add_argument('--captioner', default=TEMPLATE_MODEL,
                        help="stage b's captioner: 'template' (default, no model) or a Hugging Face vision-language "
                             'model id or folder, e.g. Qwen/Qwen2-VL-7B-Instruct (must be available offline)')
    parser.add_argument('--epochs', type=int, default=None, help='adapter training epochs (default: demo.yml)')
    parser.add_argument('--pretrain-epochs', type=int, default=None,
                        help='pre-training epochs (default: demo_pretrain.yml)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads of the demo and of each training process (default: 1, measured '
                             'fastest on a small CPU for these tiny models)')


def check_arguments(args):
    """Refuse wrong arguments before anything is built."""
    for flag, value in (('--epochs', args.epochs), ('--pretrain-epochs', args.pretrain_epochs),
                        ('--threads', args.threads)):
        if value is not None and value < 1:
            raise UserError(f'{flag} must be >= 1, got {value}.')
    if args.captioner != TEMPLATE_MODEL and (args.quick or args.backbone_weights):
        raise UserError('--captioner is for the full recipe (its captions feed the pre-training); '
                        'drop --quick / --backbone-weights, or --captioner.')
    if args.backbone_weights:  # checked as the metric will load it, without building the model
        path = Path(args.backbone_weights)
        read_openai_weights(path, clip_reference_state_dict(UNIQA_CLIP), source=f'--backbone-weights {path}',
                            what=f'the official UniQA backbone ({UNIQA_CLIP}, OpenAI layout)', hint='')


def demo_recipe(template, workdir, name, build_opts, network=None, train_dataset=None, epochs=None):
    """A demo recipe with its datasets in ``workdir`` and the given network, train data and epochs."""
    opt = load_yaml(template, what='demo recipe')
    opt['name'] = name
    for dataset in opt['datasets'].values():
        dataset['dataroot_target'] = str(Path(workdir) / DATASET)
        if 'build_opts' in dataset:
            dataset['build_opts'] = build_opts
    opt['datasets']['train'].update(train_dataset or {})
    if network and 'crop_size' in network:
        opt['datasets']['train']['augment']['random_crop'] = network['crop_size']
    opt['network'].update(network or {})
    if epochs:
        # progress lines as often relative to the run as in the recipe
        opt['logger']['print_freq'] = max(1, opt['logger']['print_freq'] * epochs // opt['train']['total_epoch'])
        opt['train']['total_epoch'] = opt['train']['scheduler']['T_max'] = epochs
    return opt


class Demo:
    """What every stage needs: the work folder, the dataset options, the held-out photos, the clock."""

    def __init__(self, workdir, args):
        self.workdir, self.args = workdir, args
        self.started = time.perf_counter()
        self.timings, self.results, self.jobs = [], [], []
        self.baseline = None
        recipe = load_yaml(ADAPTER_RECIPE, what='demo recipe')
        self.tiny = {key: value for key, value in recipe['network'].items() if key != 'type'}
        self.build_opts = recipe['datasets']['train']['build_opts']
        paths = self.stage('a  photo dataset', lambda: build_nr_dataset(workdir / DATASET, **self.build_opts))
        self.meta_info_file = paths['meta_info_file']
        self.held_out = HeldOut.read(paths['dataroot_target'])
        self.photos = sorted(set(self.held_out.photos))
        say(f'  {len(self.build_opts["photos"])} photos; held out (test split, read by no stage but scoring): '
            f'{len(self.photos)} photos, {len(self.held_out.names)} images: {", ".join(self.photos)}')

    def stage(self, name, work, note=''):
        say(f'[{name}]')
        start = time.perf_counter()
        result = work()
        self.finished(name, time.perf_counter() - start, note)
        return result

    def finished(self, name, seconds, note=''):
        self.timings.append((name, seconds, note))
        say(f'[{name}] done in {seconds:.1f} s')

    def score(self, name, label, net, note='', features=None):
        """Score the held-out photos with ``net``; returns the frozen features it used, for the
        next scorer on the same backbone (zero-shot and adapter share them)."""
        def work():
            used = features or frozen_features(net, self.held_out)
            self.results.append(evaluate(label, net, self.held_out, used))
            return used
        return self.stage(name, work, note)

    def score_zero_shot(self, name, label, backbone, network, note=''):
        """Zero-shot rows of ``backbone`` with each of ``ZERO_SHOT_PROMPTS`` (one encoding of the images)."""
        def work():
            features = None
            for prompt_set, prompts in ZERO_SHOT_PROMPTS.items():
                net = zero_shot(backbone, network, prompt_set)
                features = features or frozen_features(net, self.held_out)
                self.results.append(evaluate(f'{label} ({prompts})', net, self.held_out, features))
            return features
        return self.stage(name, work, note)

    def score_baseline(self, note=''):
        """pyiqa's classical ``BASELINE`` on the same held-out images: the row a reader knows."""
        def work():
            metric = pyiqa.create_metric(BASELINE, device='cpu')
            self.baseline = evaluate(BASELINE_LABEL, metric, self.held_out, lower_better=metric.lower_better)
        self.stage(f'   {BASELINE}, classical baseline', work, note)

    def train(self, label, template, name, network=None, train_dataset=None, epochs=None):
        """Start ``pyiqa-uniqa train`` on a copy of a demo recipe whose paths point into the work folder."""
        shutil.rmtree(self.workdir / 'experiments' / name, ignore_errors=True)  # the demo's own previous run
        options_file = self.workdir / f'{name}.yml'
        opt = demo_recipe(template, self.workdir, name, self.build_opts, network, train_dataset, epochs)
        options_file.write_text(yaml.safe_dump(opt, sort_keys=False))
        self.jobs.append(TrainingJob(label, options_file, self.workdir, self.args.threads))
        return self.jobs[-1]

    def train_adapter(self, backbone_kind, network):
        name = f'uniqa_demo_adapter_{backbone_kind.replace("-", "")}'
        job = self.train(f'e  adapter, {backbone_kind} backbone', ADAPTER_RECIPE, name, network, epochs=self.args.epochs)
        return job, self.workdir / 'experiments' / name / 'models' / 'net_best.pth'


def full_recipe(demo, captioner):
    """Stages b-f on the tiny CLIP; the random-backbone adapter trains beside the pre-training."""
    random_adapter, random_checkpoint = demo.train_adapter('random', demo.tiny)
    captions = demo.stage('b  captions', lambda: write_captions(captioner, demo.meta_info_file, demo.workdir))
    pretraining = demo.train('c  pre-training', PRETRAIN_RECIPE, 'uniqa_demo_pretrain',
                             train_dataset={'caption_files': [str(captions)]}, epochs=demo.args.pretrain_epochs)
    say('[c  pre-training] both towers on the captioned train photos (beside the random-backbone adapter)')
    random_features = demo.score_zero_shot('   random init, zero-shot', 'random init, zero-shot', 'random', demo.tiny,
                                           'during the pre-training')
    demo.score_baseline('during the pre-training')
    demo.finished('c  pre-training', pretraining.wait(), 'beside the random-backbone adapter')
    backbone = str(demo.workdir / BACKBONE_FILE)
    export_backbone(demo.workdir / 'experiments/uniqa_demo_pretrain/models/net_best.pth', backbone,
                    demo.tiny['model_name'])
    say(f'  exported the checkpoint with the best val zero-shot SRCC to {backbone}')
    network = {**demo.tiny, 'backbone_weights': backbone}
    adapter, checkpoint = demo.train_adapter('pre-trained', network)
    features = demo.score_zero_shot('d  zero-shot, pre-trained', 'pre-trained, zero-shot', backbone, demo.tiny,
                                    'beside the adapter training')
    demo.finished('e  adapter, random backbone', random_adapter.wait(), 'beside the pre-training')
    demo.score('f  scoring, random backbone', 'adapter on the random backbone',
               adapted(demo.tiny, 'random', random_checkpoint), features=random_features)
    demo.finished('e  adapter, pre-trained backbone', adapter.wait())
    demo.score('f  scoring, pre-trained backbone', 'adapter on the pre-trained backbone',
               adapted(demo.tiny, backbone, checkpoint), features=features)
    source = 'template captions' if captioner.name == TEMPLATE_MODEL else f'captions by {captioner.name}'
    return network, checkpoint, f'tiny CLIP (32-px crops), random init, pre-trained here on {source}'


def quick_run(demo):
    """Stages a, e and f: the adapter on the random backbone only."""
    job, checkpoint = demo.train_adapter('random', demo.tiny)
    features = demo.score_zero_shot('   random init, zero-shot', 'random init, zero-shot', 'random', demo.tiny)
    demo.score_baseline('beside the adapter training')
    demo.finished('e  adapter, random backbone', job.wait())
    demo.score('f  scoring, random backbone', 'adapter on the random backbone',
               adapted(demo.tiny, 'random', checkpoint), features=features)
    return {**demo.tiny, 'backbone_weights': 'random'}, checkpoint, 'tiny CLIP (32-px crops), random init (--quick)'


def official_run(demo, backbone):
    """Stages a, d, e and f on the official backbone: no pre-training."""
    network = {**OFFICIAL_NETWORK, 'backbone_weights': str(Path(backbone).resolve())}
    job, checkpoint = demo.train_adapter('official', network)
    features = demo.score_zero_shot('d  zero-shot, official', 'official backbone, zero-shot',
                                    network['backbone_weights'], network, 'beside the adapter training')
    demo.score_baseline('beside the adapter training')
    demo.finished('e  adapter, official backbone', job.wait())
    demo.score('f  scoring, official backbone', 'adapter on the official backbone',
               adapted(network, network['backbone_weights'], checkpoint), features=features)
    return network, checkpoint, f'official UniQA ViT-B/16 ({Path(backbone).name})'


def run(args):
    check_arguments(args)
    torch.set_num_threads(args.threads)  # scoring here; each training runs in its own process with as many
    full = not (args.quick or args.backbone_weights)
    captioner = build_captioner(args.captioner, CaptionPrompts.load(), flag='--captioner') if full else None
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    say(f'UniQA demo in {workdir}')
    demo = Demo(workdir, args)
    try:
        if args.quick:
            network, checkpoint, title = quick_run(demo)
        elif args.backbone_weights:
            network, checkpoint, title = official_run(demo, args.backbone_weights)
        else:
            network, checkpoint, title = full_recipe(demo, captioner)
    finally:
        for job in demo.jobs:  # a failed stage (or Ctrl-C) leaves no training running behind it
            job.stop()
    report(demo, network, checkpoint, title)
    return 0


def write_captions(captioner, meta_info_file, workdir):
    """Stage b: captions of the train photos' images, one JSONL per captioner (resumes)."""
    rows = read_image_table(meta_info_file, split='train')
    out = workdir / 'captions' / f'{Path(captioner.name).name}.jsonl'
    summary = caption_images(rows, captioner, 'quality', out)
    say(f'  {summary["images"]} train images: {summary["captioned"]} captioned now, '
        f'{summary["already_done"]} reused from {out}')
    return out


def zero_shot(backbone, network, prompt_set):
    return UniQA(**{**network, 'backbone_weights': backbone, 'use_adapter': False, 'prompt_set': prompt_set})


def adapted(network, backbone, checkpoint):
    return UniQA(**{**network, 'backbone_weights': backbone, 'pretrained_model_path': str(checkpoint)})


def metric_options(network, checkpoint, workdir):
    """``uniqa-level`` options that rebuild the final scorer from the files the demo leaves in ``workdir``."""
    adapter = workdir / ADAPTER_FILE
    shutil.copyfile(checkpoint, adapter)
    defaults = {name: p.default for name, p in inspect.signature(UniQA).parameters.items()}
    kept = {key: value for key, value in network.items() if value != defaults.get(key) and key != 'backbone_weights'}
    return {'use_adapter': True, **kept, 'backbone_weights': network['backbone_weights'],
            'pretrained_model_path': str(adapter)}


def report(demo, network, checkpoint, title):
    figure = demo.workdir / FIGURE_FILE
    held_out = f'{len(demo.photos)} held-out photos ({len(demo.held_out.names)} images)'
    results = demo.results + [demo.baseline]
    demo.stage('f  figure', lambda: save_figure(figure, results, demo.held_out,
                                                 f'UniQA demo on {held_out}; backbone: {title}',
                                                 compared=(demo.results[-1], demo.baseline)))
    say(f'\nHeld-out SRCC/PLCC, {held_out}: {", ".join(demo.photos)}; no stage reads them but this scoring.\n'
        f'Backbone: {title}. piqe is lower-is-better: its correlations are those of the negated score.')
    say(results_table(results))
    say('\nHeld-out SRCC per distortion (each: the pristine photos and the 5 levels of that distortion):')
    say(distortion_table(results))
    threads = 'one torch thread' if demo.args.threads == 1 else f'{demo.args.threads} torch threads'
    say(f'\nWall time per stage ({threads} per process):')
    say(timing_table(demo.timings + [('   total', time.perf_counter() - demo.started, '')]))
    say(f'\nFigure: {figure}\nReuse the result:')
    for line in reuse_lines(metric_options(network, checkpoint, demo.workdir)):
        say(f'  {line}')
