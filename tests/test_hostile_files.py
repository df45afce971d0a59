"""No file a user is handed runs code: one row per entry point and kind of hostile file.

A row is ``Row(entry, hostile, run)``:

- ``entry``: what is tried, e.g. ``'train -opt: YAML python tag'`` (the test id);
- ``hostile(folder, marker) -> path``: writes the hostile file into ``folder`` and returns it; its
  payload creates ``marker`` if it ever runs (the ``python_tag`` / ``pickled`` / ``torch_saved`` /
  ``escaping_csv`` helpers below write the usual ones);
- ``run(folder, path) -> text``: hands the file to the entry point and returns the error it gave
  (``command(...)`` runs a ``pyiqa-uniqa`` command in ``folder`` and returns its stderr;
  ``raises(...)`` calls Python and returns the ``UserError``'s message).

Every row asserts that the marker never appears and that the error names the file. Adding an entry
point is one line in ``ROWS``; owners of a command add its rows.
"""
import contextlib
import io
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import torch
import yaml
from PIL import Image

from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.testing.toy_datasets import write_toy_iqa_dataset


class Payload:
    """Creates ``marker`` when an ordinary unpickler loads it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, 'w'))


# --- hostile files ---------------------------------------------------------------------------------

def python_tag(name, make_options=lambda payload: {'name': payload}):
    """A YAML file whose options hold ``!!python/object/apply:builtins.open [marker, 'w']``."""
    def write(folder, marker):
        text = yaml.safe_dump(make_options('PAYLOAD'), sort_keys=False)
        path = folder / name
        path.write_text(text.replace("PAYLOAD", f"!!python/object/apply:builtins.open ['{marker}', 'w']", 1))
        return path
    return write


def pickled(name, wrap, dump=pickle.dump):
    """A file holding ``wrap(payload)``, written by ``dump(obj, file)``: a plain pickle by default."""
    def write(folder, marker):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, 'wb') as f:
            dump(wrap(Payload(marker)), f)
        return path
    return write


def torch_saved(name, wrap):
    """A ``torch.save`` file of ``wrap(payload)``."""
    return pickled(name, wrap, dump=torch.save)


def escaping_list(name):
    """A CSV of image names that climb out of its folder (``../``) or are the marker's own path, relative."""
    def write(folder, marker):
        path = folder / 'lists' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'path\n../{marker.name}\n../../etc/passwd\n')
        return path
    return write


# --- entry points ----------------------------------------------------------------------------------

def command(*argv):
    """Run ``pyiqa-uniqa *argv`` in the folder and return its stderr ('{file}' in an argument stands for the
    hostile file, '{marker}' for the marker)."""
    def run(folder, path):
        argv_here = [a.replace('{file}', str(path)).replace('{marker}', str(folder / 'MARKER')) for a in argv]
        err = io.StringIO()
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            with contextlib.redirect_stderr(err):
                status = main(argv_here)
        except SystemExit as exit_:  # commands that still end with SystemExit(message)
            status = exit_.code if isinstance(exit_.code, int) else 1
            err.write(str(exit_.code))
        finally:
            os.chdir(cwd)
        assert status != 0
        return err.getvalue()
    return run


def raises(call):
    """Call ``call(folder, path)``; it must raise a ``UserError``, whose message is returned."""
    def run(folder, path):
        with pytest.raises(UserError) as info:
            call(folder, path)
        return str(info.value)
    return run


def toy_recipe(folder, **dataset):
    """A recipe on the 20-image toy dataset (written into ``folder/data``) with a tiny network."""
    write_toy_iqa_dataset(folder / 'data')
    options = {'name': 'toy', 'type': 'GeneralNRDataset', 'dataroot_target': 'data',
               'meta_info_file': 'data/meta.csv', 'split_file': 'data/split.pkl', **dataset}
    opt = {'name': 'toy', 'model_type': 'FrozenBackboneIQAModel', 'num_gpu': 0, 'manual_seed': 1,
           'datasets': {'train': {**options, 'batch_size_per_gpu': 4, 'num_worker_per_gpu': 0}, 'val': options},
           'network': {'type': 'TinyIQANet'}, 'path': {},
           'train': {'optim': {'type': 'Adam', 'lr': 0.01}, 'scheduler': {'type': 'MultiStepLR', 'milestones': [9]},
                     'total_iter': 1, 'mos_loss_opt': {'type': 'MSELoss'}},
           'val': {'val_freq': 9, 'save_img': False, 'metrics': {'srcc': {'type': 'calculate_srcc'}}},
           'logger': {'print_freq': 1, 'save_checkpoint_freq': 9, 'save_latest_freq': 9, 'use_tb_logger': False}}
    (folder / 'toy.yml').write_text(yaml.safe_dump(opt))
    return 'toy.yml'


def train_with(**recipe_changes):
    """``pyiqa-uniqa train`` on the toy recipe, ``recipe_changes(folder, path)`` applied to its options."""
    def run(folder, path):
        recipe = toy_recipe(folder)
        opt = yaml.safe_load((folder / recipe).read_text())
        for key, change in recipe_changes.items():
            change(opt, path)
        (folder / recipe).write_text(yaml.safe_dump(opt))
        return command('train', '-opt', recipe)(folder, path)
    return run


PHOTOS = ['astronaut', 'coffee', 'chelsea']  # one per phase


def photo_dataset_with_replaced_split(folder, marker):
    """A cached photo dataset (built, manifest complete) whose split.pkl was swapped for a payload of the
    same size, so the builder reuses it and pyiqa's dataset class opens it."""
    from pyiqa_uniqa.data.photo_datasets import build_nr_dataset
    paths = build_nr_dataset(folder / 'photos', distortions=['blur'], levels=[1], photos=PHOTOS, size=32,
                             progress=False)
    split = Path(paths['split_file'])
    hostile = pickle.dumps({1: {'train': [0, 1], 'val': [Payload(marker)], 'test': []}})
    split.write_bytes(hostile)
    manifest = json.loads(Path(paths['manifest_file']).read_text())
    manifest['files'][split.name] = len(hostile)
    Path(paths['manifest_file']).write_text(json.dumps(manifest))
    return split


def photo_recipe(opt, path):
    for dataset in opt['datasets'].values():
        dataset.update(type='PhotoDistortionNRDataset', dataroot_target=str(path.parent),
                       build_opts={'distortions': ['blur'], 'levels': [1], 'photos': PHOTOS, 'size': 32})
        for key in ('meta_info_file', 'split_file'):
            dataset.pop(key)


def resume_state_in_experiment(folder, marker):
    toy_recipe(folder)
    path = folder / 'experiments' / 'toy' / 'training_states' / '2.state'
    return torch_saved(str(path.relative_to(folder)), lambda payload: {
        'epoch': 0, 'iter': 2, 'optimizers': [payload], 'schedulers': []})(folder, marker)


def pretraining_experiment_with_hostile_options(folder, marker):
    """A real pre-training checkpoint whose experiment folder holds an options YAML with a python tag
    (export-backbone reads ``network.clip_model`` from it)."""
    from pyiqa_uniqa.uniqa_pretrain.arch import UniQAPretrainCLIP
    models = folder / 'experiments' / 'pre' / 'models'
    models.mkdir(parents=True)
    torch.save({'params': UniQAPretrainCLIP('tiny-clip-quickgelu', 'random').state_dict()}, models / 'net_latest.pth')
    return python_tag('experiments/pre/pre.yml', lambda p: {'network': {'clip_model': p}})(folder, marker)


def uniqa(**kwargs):
    def call(folder, path):
        import pyiqa
        pyiqa.create_metric('uniqa', device='cpu', model_name='tiny-clip-quickgelu',
                            **{k: (str(path) if v == '{file}' else v) for k, v in kwargs.items()})
    return call


def escaping_csv(name, absolute=False):
    """An image list (or probe) in ``lists/`` naming a real image outside that folder: ``../outside.png``,
    or its absolute path. Without the check the command would read it."""
    def write(folder, marker):
        Image.new('RGB', (40, 32), (90, 120, 150)).save(folder / 'outside.png')
        path = folder / 'lists' / name
        path.parent.mkdir()
        path.write_text(f'image,sharpness\n{folder / "outside.png" if absolute else "../outside.png"},1\n')
        return path
    return write


def with_an_image(write_hostile):
    """``write_hostile``'s file beside ``images/a.png``, for commands that list images before reading it."""
    def write(folder, marker):
        (folder / 'images').mkdir()
        Image.new('RGB', (40, 32), (90, 120, 150)).save(folder / 'images' / 'a.png')
        return write_hostile(folder, marker)
    return write


def official_clip_agiqa_run(folder, marker):
    """A run folder of the official CLIP-AGIQA trainer whose prompt learner holds a payload where ``ctx`` goes."""
    from pyiqa_uniqa.testing.dassl_checkpoints import write_dassl_checkpoint
    write_dassl_checkpoint(folder / 'run', 'regression', torch.nn.Linear(4, 1))
    dassl_file = torch_saved('run/prompt_learner/model-best.pth.tar',
                             lambda p: {'state_dict': {'ctx': p}, 'epoch': 1, 'optimizer': None, 'scheduler': p})
    return dassl_file(folder, marker)


def create_metric(name, **kwargs):
    def call(folder, path):
        import pyiqa
        pyiqa.create_metric(name, device='cpu', **{k: (v(path) if callable(v) else v) for k, v in kwargs.items()})
    return call


def set_option(section, key):
    def change(opt, path):
        opt[section][key] = str(path)
    return change


@dataclass
class Row:
    entry: str
    hostile: Callable
    run: Callable


ROWS = [
    Row('train -opt: YAML python tag', python_tag('recipe.yml'), command('train', '-opt', '{file}')),
    Row('train --force_yml: YAML python tag', lambda folder, marker: folder / toy_recipe(folder),
        command('train', '-opt', '{file}', '--force_yml',
                "name=[!!python/object/apply:builtins.open ['{marker}', w]]")),
    Row('train: split_file with a payload', pickled('evil_split.pkl', lambda p: {1: {'train': [0], 'val': [p]}}),
        train_with(datasets=lambda opt, path: [d.update(split_file=str(path)) for d in opt['datasets'].values()])),
    Row('train: cached photo dataset whose split.pkl was replaced', photo_dataset_with_replaced_split,
        train_with(datasets=photo_recipe)),
    Row('train --auto_resume: training state with a payload', resume_state_in_experiment,
        command('train', '-opt', 'toy.yml', '--auto_resume')),
    Row('train: path.pretrain_network with a payload', torch_saved('net.pth', lambda p: {'params': {'head.weight': p}}),
        train_with(path=set_option('path', 'pretrain_network'))),
    Row('create_metric: pretrained_model_path with a payload',
        torch_saved('adapter.pth', lambda p: {'params': {'score_level': p}}),
        raises(uniqa(backbone_weights='random', pretrained_model_path='{file}'))),
    Row('create_metric: backbone_weights with a payload', torch_saved('clip.pt', lambda p: {'visual.proj': p}),
        raises(uniqa(backbone_weights='{file}'))),
    Row('export-backbone: checkpoint with a payload', torch_saved('ckpt.pth', lambda p: {'params': {'clip.x': p}}),
        command('export-backbone', '{file}', '--out', 'out.pt')),
    Row('export-backbone: experiment options YAML with a python tag', pretraining_experiment_with_hostile_options,
        command('export-backbone', 'experiments/pre/models/net_latest.pth', '--out', 'out.pt')),
    Row('caption --prompts: YAML python tag', python_tag('prompts.yml', lambda p: {'levels': p}),
        command('caption', '--data', 'meta.csv', '--task', 'quality', '--model', 'template', '--prompts', '{file}',
                '--out', 'caps.jsonl')),
    Row('demo --backbone-weights: checkpoint with a payload',
        torch_saved('UniQA_weight.pt', lambda p: {'visual.proj': p}),
        command('demo', '--workdir', 'demo', '--backbone-weights', '{file}')),
    Row('eval --split-file: split pickle with a payload', pickled('split.pkl', lambda p: {1: {'test': [p]}}),
        command('eval', '-m', 'psnr', '-d', 'photos-fr', '--split-file', '{file}', '--out', 'res', '--no-plots')),
    Row('eval --data-opt: YAML python tag', python_tag('data.yml', lambda p: {'mine': {'type': p}}),
        command('eval', '-m', 'psnr', '--data-opt', '{file}', '-d', 'mine', '--out', 'res', '--no-plots')),
    Row('bench --metric-opt: YAML python tag', python_tag('metrics.yml', lambda p: {'psnr': {'test_y_channel': p}}),
        command('bench', '--metric-opt', '{file}')),
    Row('score --metric-opt: YAML python tag', python_tag('metrics.yml', lambda p: {'psnr': {'test_y_channel': p}}),
        command('score', '--metric-opt', '{file}', '--images', '.', '--out', 'scores.csv')),
    Row('score --images: a list whose names climb out of its folder', escaping_list('images.csv'),
        command('score', '-m', 'piqe', '--images', '{file}', '--out', 'scores.csv', '--no-progress')),
    Row('create_metric clip-agiqa: official_checkpoint whose state dict holds a payload', official_clip_agiqa_run,
        raises(create_metric('clip-agiqa', model_name='tiny-clip-quickgelu', backbone_weights='random',
                             official_checkpoint=lambda path: path.parents[1]))),
    Row('create_metric clip-agiqa: pretrained_model_path with a payload',
        torch_saved('clip_agiqa.pth', lambda p: {'params': {'prompt_learner.ctx': p}}),
        raises(create_metric('clip-agiqa', model_name='tiny-clip-quickgelu', backbone_weights='random',
                             pretrained_model_path=str))),
    Row('create_metric attiqa: pretrained_model_path with a payload',
        torch_saved('attiqa.pth', lambda p: {'params': {'quality_head.0.weight': p}}),
        raises(create_metric('attiqa', backbone='test_resnet', pretrained_model_path=str))),
    Row('label --prompts: YAML python tag', with_an_image(python_tag('prompts.yml', lambda p: {'prompts': p})),
        command('label', '--images', 'images', '--prompts', '{file}', '--out', 'attrs.csv')),
    Row('label --images: CSV naming an image outside --image-root', escaping_csv('list.csv'),
        command('label', '--images', '{file}', '--out', 'attrs.csv')),
    Row('select-prompts --probe: CSV naming an absolute path', escaping_csv('probe.csv', absolute=True),
        command('select-prompts', '--probe', '{file}', '--out', 'prompts.yml')),
]


@pytest.mark.parametrize('row', ROWS, ids=[row.entry for row in ROWS])
def test_a_hostile_file_runs_nothing_and_the_error_names_it(row, tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    marker = tmp_path / 'MARKER'
    hostile = row.hostile(tmp_path, marker)
    message = row.run(tmp_path, hostile)
    assert not marker.exists()
    assert hostile.name in message, message
    assert 'Traceback' not in message


# --- the loaders themselves: every call in the package that reads a file stays on the safe side -------

PACKAGE = Path(__file__).resolve().parents[1] / 'pyiqa_uniqa'


def _calls(name):
    """``(file, line, call)`` for each call in the package whose function is named ``name``."""
    import ast
    for path in sorted(PACKAGE.rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', None)
                if called == name:
                    yield f'{path.relative_to(PACKAGE.parent)}:{node.lineno}', node


def _keyword(call, name):
    import ast
    value = next((k.value for k in call.keywords if k.arg == name), None)
    return value.value if isinstance(value, ast.Constant) else value


def test_nothing_evaluates_file_content_or_unpickles_freely():
    assert [where for name in ('eval', 'exec') for where, call in _calls(name)
            if not isinstance(call.func, __import__('ast').Attribute)] == []
    assert [where for name in ('load', 'loads') for where, call in _calls(name)
            if getattr(call.func, 'value', None) is not None and getattr(call.func.value, 'id', '') == 'pickle'] == []
    unsafe_torch_loads = [where for where, call in _calls('load')
                          if getattr(getattr(call.func, 'value', None), 'id', '') == 'torch'
                          and _keyword(call, 'weights_only') is not True and _keyword(call, 'pickle_module') is None]
    assert unsafe_torch_loads == []
    yaml_loads = [where for where, call in _calls('load') if getattr(getattr(call.func, 'value', None), 'id', '') == 'yaml'
                  and getattr(_keyword(call, 'Loader'), 'id', '') != '_PlainLoader']
    assert yaml_loads == []


def test_hugging_face_loads_never_trust_remote_code():
    loads = [(where, call) for name in ('from_pretrained', 'SentenceTransformer') for where, call in _calls(name)]
    assert loads  # the scan sees them
    assert [where for where, call in loads
            if _keyword(call, 'trust_remote_code') is not False and _keyword(call, 'modules') is None] == []
