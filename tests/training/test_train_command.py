"""The train command runs pyiqa's pipeline on CPU, survives a kill, and resumes exactly."""
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

RECIPE = Path(__file__).with_name('tiny_train.yml')


@pytest.fixture()
def workdir(tmp_path_factory, tmp_path):
    dataroot = tmp_path_factory.getbasetemp() / 'tiny_photos'
    text = RECIPE.read_text().replace('DATAROOT', str(dataroot))
    (tmp_path / 'tiny.yml').write_text(text)
    return tmp_path


def train(workdir, *extra, wait=True):
    command = [sys.executable, '-m', 'pyiqa_uniqa', 'train', '-opt', 'tiny.yml', *extra]
    if not wait:
        return subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def models_dir(workdir):
    return workdir / 'experiments' / 'tiny_train' / 'models'


def test_kill_then_resume_restores_iteration_and_weights(workdir):
    states = workdir / 'experiments' / 'tiny_train' / 'training_states'
    run = train(workdir, '--force_yml', 'train:total_iter=100', wait=False)  # long enough to be killed mid-way
    deadline = time.time() + 240
    while not (states / '10.state').exists() and run.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    if run.poll() is not None:
        pytest.fail(f'training ended before it could be interrupted:\n{run.stdout.read()[-3000:]}')
    run.kill()
    run.wait()
    saved = sorted(int(p.stem) for p in states.glob('*.state'))
    assert saved and saved[-1] < 100, f'run was not interrupted mid-way: {saved}'
    last = saved[-1]

    # resume with total_iter = the saved iteration: no step is taken, so the final weights
    # are exactly what the resume restored
    log = train(workdir, '--auto_resume', '--force_yml', f'train:total_iter={last}')
    assert 'Resuming training from epoch: ' in log and f'iter: {last}.' in log
    restored = torch.load(models_dir(workdir) / 'net_latest.pth')['params']
    at_kill = torch.load(models_dir(workdir) / f'net_{last}.pth')['params']
    assert restored.keys() == at_kill.keys()
    assert all(torch.equal(restored[k], at_kill[k]) for k in at_kill)

    # and the full resume carries on from there to the end
    log = train(workdir, '--auto_resume', '--force_yml', 'train:total_iter=100')
    iters = [int(i) for i in re.findall(r'iter:\s*(\d+),', log)]
    assert iters and min(iters) > last and max(iters) == 100
    assert (states / '100.state').exists()


def test_checkpoints_pretrain_network_g_and_ignored_keys(workdir):
    log = train(workdir)
    weights = models_dir(workdir) / 'net_best.pth'
    # the frozen backbone (held outside the module) and the frozen LayerNorm are not saved
    assert set(torch.load(weights)['params']) == {'head.weight', 'head.bias'}
    assert 'frozen parameter tensors are not optimised' in log
    assert 'will not be optimized' not in log  # no per-parameter warning flood
    assert 'would silently ignore' not in log

    opt = yaml.safe_load((workdir / 'tiny.yml').read_text())
    opt['name'] = 'tiny_from_pretrained'
    opt['path'] = {'pretrain_network_g': str(weights), 'strict_load_g': True}
    opt['train']['total_iter'] = 1
    opt['train']['regress_opt'] = {'type': 'MSELoss'}  # the key pyiqa's own example uses, ignored
    opt['datasets']['train']['augment']['random_crops'] = 48  # a typo pyiqa would skip
    (workdir / 'tiny.yml').write_text(yaml.safe_dump(opt))
    log = train(workdir)
    assert f'from {weights}' in log
    assert 'train.regress_opt' in log and 'datasets.train.augment.random_crops' in log


def test_train_py_at_repo_root_uses_the_working_directory(workdir):
    script = Path(__file__).resolve().parents[2] / 'train.py'
    result = subprocess.run([sys.executable, str(script), '-opt', 'tiny.yml', '--force_yml', 'train:total_iter=2'],
                            cwd=workdir, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (models_dir(workdir) / 'net_latest.pth').exists()
