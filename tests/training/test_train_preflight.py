"""The train command checks its inputs before creating anything and reads recipes and splits as data."""
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.testing.toy_datasets import write_toy_iqa_dataset

REPO = Path(__file__).resolve().parents[2]


class Payload:
    """Creates ``marker`` when an ordinary unpickler loads it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def toy_recipe(total_iter=2):
    """A 20-image toy dataset in pyiqa's layout (``data/``), a tiny network: trains in seconds."""
    dataset = {'name': 'toy', 'type': 'GeneralNRDataset', 'dataroot_target': 'data',
               'meta_info_file': 'data/meta.csv', 'split_file': 'data/split.pkl'}
    return {
        'name': 'toy', 'model_type': 'FrozenBackboneIQAModel', 'num_gpu': 0, 'manual_seed': 1,
        'datasets': {'train': {**dataset, 'augment': {'random_crop': 32}, 'batch_size_per_gpu': 4,
                               'num_worker_per_gpu': 0},
                     'val': dict(dataset)},
        'network': {'type': 'TinyIQANet'}, 'path': {},
        'train': {'optim': {'type': 'Adam', 'lr': 0.01}, 'scheduler': {'type': 'MultiStepLR', 'milestones': [100]},
                  'total_iter': total_iter,
                  'mos_loss_opt': {'type': 'MSELoss'}},
        'val': {'val_freq': 1000, 'save_img': False, 'key_metric': 'srcc', 'metrics': {'srcc': {'type': 'calculate_srcc'}}},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 1000, 'save_latest_freq': 1000, 'use_tb_logger': True},
    }


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    write_toy_iqa_dataset(tmp_path / 'data')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path, opt):
    path.write_text(yaml.safe_dump(opt, sort_keys=False))
    return path.name


def outputs(workdir):
    return sorted(p.name for p in workdir.iterdir() if p.name in ('experiments', 'tb_logger', 'tb_logger_archived'))


def test_missing_dataset_and_weights_one_line_each_and_nothing_created(workdir, capsys, monkeypatch):
    monkeypatch.delenv('UNIQA_WEIGHTS', raising=False)
    monkeypatch.setenv('TORCH_HOME', str(workdir / 'torch'))
    recipe = yaml.safe_load((REPO / 'options' / 'uniqa' / 'koniq.yml').read_text())
    assert main(['train', '-opt', write(workdir / 'koniq.yml', recipe)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('pyiqa-uniqa train: error: koniq.yml names inputs that are missing')
    assert 'Traceback' not in err
    lines = err.splitlines()
    image_folder = [line for line in lines if 'image folder ./datasets/koniq10k/512x384 does not exist' in line]
    meta_info = [line for line in lines
                 if 'meta-info file ./datasets/meta_info/meta_info_KonIQ10kDataset.csv does not exist' in line]
    assert len(image_folder) == len(meta_info) == 1  # train and val name the same files: one line each
    assert image_folder[0].startswith('  - datasets.train, datasets.val (koniq10k)')
    assert "pyiqa.load_dataset('koniq10k', data_root='./datasets')" in err
    weights = [line for line in lines if line.startswith('  - network.backbone_weights: ')]
    assert len(weights) == 1 and 'UniQA_weight.pt' in weights[0] and '$UNIQA_WEIGHTS' in weights[0]
    assert outputs(workdir) == []


def test_a_model_of_hugging_face_parts_checks_them_its_own_way(workdir, capsys):
    """DepictQA's base models are Hugging Face repos, not files: its ``missing_weights`` reports them,
    and a recipe training the delta from scratch is not told to fetch the released one."""
    recipe = toy_recipe()
    recipe['network'] = {'type': 'DepictQA', 'model_config': 'wild', 'pretrained_model_path': 'random',
                         'backbone_weights': 'random', 'language_model': 'nobody/no-such-language-model'}
    assert main(['train', '-opt', write(workdir / 'dq.yml', recipe)]) == 2
    err = capsys.readouterr().err
    network = [line for line in err.splitlines() if line.startswith('  - network: ')]
    assert len(network) == 1 and "language_model='nobody/no-such-language-model'" in network[0]
    assert 'backbone_weights' not in network[0] and 'It also needs' not in network[0]
    assert 'Traceback' not in err and outputs(workdir) == []


def test_caption_files_and_their_image_folders_are_checked_first(workdir, capsys):
    """ImageTextDataset names its inputs its own way (caption globs with their image roots)."""
    (workdir / 'caps').mkdir()
    (workdir / 'caps' / 'a.jsonl').write_text('{"image": "0.png", "caption": "a sharp photo"}\n')
    recipe = toy_recipe()
    recipe['datasets']['train'] = {'name': 'captions', 'type': 'ImageTextDataset', 'batch_size_per_gpu': 2,
                                   'caption_files': [{'file': 'caps/none*.jsonl', 'dataroot': 'data'},
                                                     {'file': 'caps/a.jsonl', 'dataroot': 'nowhere'}]}
    assert main(['train', '-opt', write(workdir / 'pretrain.yml', recipe)]) == 2
    lines = capsys.readouterr().err.splitlines()
    train = [line for line in lines if line.startswith('  - datasets.train: ')]
    assert len(train) == 2
    assert 'No caption file matches' in train[0] and 'none*.jsonl' in train[0] and 'pyiqa-uniqa caption' in train[0]
    assert train[1].endswith('the image folder nowhere of caps/a.jsonl does not exist.')
    assert outputs(workdir) == []


def test_unknown_types_missing_sections_and_files(workdir, capsys):
    from PIL import ImageFile
    opt = toy_recipe()
    opt['network']['type'] = 'TinyIQANett'
    opt['datasets']['val']['type'] = 'NoSuchDataset'
    opt['path'] = {'pretrain_network': 'nowhere/net_best.pth', 'resume_state': str(workdir)}
    modules, truncated = set(sys.modules), ImageFile.LOAD_TRUNCATED_IMAGES
    assert main(['train', '-opt', write(workdir / 'bad.yml', opt)]) == 2
    err = capsys.readouterr().err
    assert "network.type: arch type 'TinyIQANett' is not registered with pyiqa. Did you mean one of: TinyIQANet" in err
    assert "datasets.val.type: dataset type 'NoSuchDataset' is not registered" in err
    assert 'path.pretrain_network: nowhere/net_best.pth does not exist.' in err
    assert f'path.resume_state: {workdir} is a folder, not a file.' in err
    # finding out that a name is unknown imports none of pyiqa's other modules (pyiqa's own lookup imports
    # them all, and some change process-wide state: AVA's PIL flag, Q-Align's transformers patches)
    imported = set(sys.modules) - modules
    assert not [m for m in imported if m.startswith('pyiqa.archs.') and m.endswith('_arch')], imported
    assert 'pyiqa.data.ava_dataset' not in imported and not [m for m in imported if 'q_align' in m]
    assert ImageFile.LOAD_TRUNCATED_IMAGES == truncated
    opt['network']['type'] = 'TinyIQANet'
    opt['datasets']['val']['type'] = 'GeneralNRDataset'
    del opt['logger'], opt['num_gpu']
    assert main(['train', '-opt', write(workdir / 'bad.yml', opt)]) == 2
    assert 'the options have no num_gpu, logger' in capsys.readouterr().err
    assert outputs(workdir) == []


@pytest.mark.parametrize('content, expected', [
    ('name: x\nmodel_type: !!python/object/apply:os.system ["touch MARKER"]\n',
     'bad.yml, line 2: the tag !!python/object/apply:os.system is not allowed'),
    ('name: x\ndatasets: [1, 2\n', 'bad.yml, line 3: not valid YAML'),
    ('name: x\nname: y\n', "bad.yml, line 2: the key 'name' is given twice (first on line 1)"),
    ('- a\n- b\n', 'bad.yml: an options file must be a YAML mapping'),
    ('', 'bad.yml: an options file must be a YAML mapping (name: ..., datasets: ...); it holds nothing'),
    (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR', 'bad.yml is not a text file'),
])
def test_option_file_errors_name_the_file_and_line(workdir, capsys, content, expected):
    path = workdir / 'bad.yml'
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(['train', '-opt', 'bad.yml']) == 2
    err = capsys.readouterr().err
    assert expected in err and 'Traceback' not in err
    assert not (workdir / 'MARKER').exists()
    assert main(['train', '-opt', 'missing.yml']) == 2
    assert 'missing.yml: no such options file' in capsys.readouterr().err


def test_force_yml_is_parsed_never_executed(workdir, capsys):
    name = write(workdir / 'toy.yml', toy_recipe())
    marker = workdir / 'MARKER'
    # pyiqa eval()-s a value that starts with '[': here it is YAML, so this is a list of one string
    assert main(['train', '-opt', name, '--force_yml', f"train:total_iter=[__import__('os').mkdir('{marker}')]",
                 'nosection:key=1']) == 2
    assert "--force_yml 'nosection:key=1': the options have no section 'nosection'" in capsys.readouterr().err
    assert main(['train', '-opt', name, '--force_yml', f'train:total_iter=[open("{marker}", "w")]']) == 2
    assert 'not valid YAML' in capsys.readouterr().err
    assert main(['train', '-opt', name, '--force_yml', 'train:total_iter']) == 2
    assert 'expected section:key=value' in capsys.readouterr().err
    assert not marker.exists() and outputs(workdir) == []


def test_hostile_split_file_is_refused_before_anything_runs(workdir, capsys):
    marker = workdir / 'MARKER'
    (workdir / 'data' / 'split.pkl').write_bytes(pickle.dumps({1: {'train': [0, 1], 'val': [Payload(marker)]}}))
    assert main(['train', '-opt', write(workdir / 'toy.yml', toy_recipe())]) == 2
    err = capsys.readouterr().err
    assert 'datasets.train.split_file, datasets.val.split_file: data/split.pkl asks for io.open' in err
    assert not marker.exists() and outputs(workdir) == []
    (workdir / 'data' / 'split.pkl').write_bytes(pickle.dumps({2: {'train': [0, 1]}}))
    assert main(['train', '-opt', 'toy.yml']) == 2
    assert 'data/split.pkl has no split 1 (split_index; it has 2)' in capsys.readouterr().err


def test_pyiqa_datasets_read_split_files_safely_during_training(workdir):
    import pyiqa.data.base_iqa_dataset
    from pyiqa.data.general_nr_dataset import GeneralNRDataset

    from pyiqa_uniqa.safe_pickle import UnsafePickleError, load_plain_pickle
    from pyiqa_uniqa.training.pyiqa_patches import pyiqa_for_our_training

    marker = workdir / 'MARKER'
    (workdir / 'data' / 'evil.pkl').write_bytes(pickle.dumps({1: {'train': [0, Payload(marker)]}}))
    options = {'name': 'toy', 'type': 'GeneralNRDataset', 'dataroot_target': 'data', 'phase': 'train',
               'meta_info_file': 'data/meta.csv', 'split_file': 'data/split.pkl'}
    with pyiqa_for_our_training():
        assert pyiqa.data.base_iqa_dataset.pickle.load is load_plain_pickle
        assert len(GeneralNRDataset(options)) == 16  # a plain split file still works
        with pytest.raises(UnsafePickleError, match='data/evil.pkl asks for io.open'):
            GeneralNRDataset({**options, 'split_file': 'data/evil.pkl'})
    assert pyiqa.data.base_iqa_dataset.pickle is pickle  # only for the duration of the command
    assert not marker.exists()


def test_a_failure_before_the_first_iteration_leaves_the_folders_as_they_were(workdir):
    import pyiqa.train

    earlier = workdir / 'experiments' / 'toy'
    earlier.mkdir(parents=True)
    (earlier / 'earlier_run.log').write_text('kept')
    name = write(workdir / 'toy.yml', toy_recipe())
    calls = []

    def broken_dataloaders(opt, logger):
        calls.append(sorted(p.name for p in (workdir / 'experiments').iterdir()))
        raise RuntimeError('dataset failed')  # after pyiqa made its folders and moved the earlier run
    original = pyiqa.train.create_train_val_dataloader
    pyiqa.train.create_train_val_dataloader = broken_dataloaders
    try:
        with pytest.raises(RuntimeError, match='dataset failed'):
            main(['--debug', 'train', '-opt', name])
    finally:
        pyiqa.train.create_train_val_dataloader = original
    assert len(calls[0]) == 2 and any('_archived_' in n for n in calls[0])  # the start really happened
    assert sorted(p.name for p in (workdir / 'experiments').iterdir()) == ['toy']
    assert (earlier / 'earlier_run.log').read_text() == 'kept'
    assert outputs(workdir) == ['experiments']  # no tb_logger/, no tb_logger_archived/


def test_a_run_that_started_keeps_its_outputs_and_train_py_reports_user_errors(workdir):
    name = write(workdir / 'toy.yml', toy_recipe(total_iter=2))
    assert main(['train', '-opt', name]) == 0
    assert (workdir / 'experiments' / 'toy' / 'models' / 'net_latest.pth').is_file()
    assert 'head.weight' in torch.load(workdir / 'experiments' / 'toy' / 'models' / 'net_latest.pth')['params']
    result = subprocess.run([sys.executable, str(REPO / 'train.py'), '-opt', 'missing.yml'], cwd=workdir,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and 'missing.yml: no such options file' in result.stderr
    assert 'Traceback' not in result.stderr


def test_an_untested_pyiqa_is_refused(workdir, capsys, monkeypatch):
    import importlib.metadata
    real_version = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, 'version', lambda name: '0.2.0' if name == 'pyiqa' else real_version(name))
    assert main(['train', '-opt', write(workdir / 'toy.yml', toy_recipe())]) == 2
    err = capsys.readouterr().err
    assert 'written for pyiqa 0.1.16' in err and 'this is pyiqa 0.2.0' in err and 'pyiqa==0.1.16' in err


@pytest.mark.parametrize('name', ['../../escaped_run', '/tmp/absolute_run', 'runs/../../up'])
def test_a_name_that_leaves_the_working_folder_is_refused_before_anything_is_created(workdir, capsys, name):
    opt = toy_recipe()
    opt['name'] = name
    assert main(['train', '-opt', write(workdir / 'escape.yml', opt)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('pyiqa-uniqa train: error: escape.yml has options of the wrong kind') and 'points outside' in err
    assert outputs(workdir) == [] and not (workdir.parent.parent / 'escaped_run').exists()


@pytest.mark.parametrize('change, force, expected', [
    (lambda opt: opt.update(datasets=[opt['datasets']['train']]), [], 'datasets is a list; it must be a mapping'),
    (lambda opt: opt['datasets']['train'].update(type=7), [], 'datasets.train.type is 7 (an int); it must be text'),
    (lambda opt: opt.update(network='TinyIQANet'), [], "network is 'TinyIQANet' (a str); it must be a mapping"),
    (lambda opt: opt.update(name=None), [], 'name is not set'),
    (lambda opt: None, ['manual_seed=99999999999999999999'], 'manual_seed is 99999999999999999999 (an int); it must be '
                                                             'a whole number from 0 to'),
    (lambda opt: None, ['train:total_iter=²'], "train.total_iter is '²' (a str); it must be a whole number"),
    (lambda opt: None, ['datasets:train:batch_size_per_gpu=0'], 'datasets.train.batch_size_per_gpu is 0'),
])
def test_values_of_the_wrong_kind_are_one_line_each(workdir, capsys, change, force, expected):
    opt = toy_recipe()
    change(opt)
    argv = ['train', '-opt', write(workdir / 'kinds.yml', opt)] + (['--force_yml', *force] if force else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith('pyiqa-uniqa train: error: kinds.yml has options of the wrong kind') and expected in err, err
    assert 'Traceback' not in err and outputs(workdir) == []


def test_an_empty_required_section_says_how_to_write_none(workdir, capsys):
    # found by tests/properties (long profile): 'path:' with nothing after it reached pyiqa's make_paths
    opt = toy_recipe()
    opt['path'] = None
    assert main(['train', '-opt', write(workdir / 'empty.yml', opt)]) == 2
    assert 'path is empty (null); it must be a mapping: write path: {} for none' in capsys.readouterr().err
    assert outputs(workdir) == []
