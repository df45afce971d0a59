"""The README's main job, `pyiqa-uniqa demo`, end to end, with short trainings to keep it quick.

The whole recipe runs (photo dataset, captions, pre-training, zero-shot, adapters, scoring, report);
a second run reuses the dataset and the captions and prints the same results table; the printed
reuse line rebuilds the final scorer, whose held-out SRCC is the one the table shows.
"""
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from pyiqa_uniqa.backbones import create_clip
from pyiqa_uniqa.apps.uniqa_demo.demo_training import ProgressLines

ROWS = ('random init, zero-shot', 'pre-trained, zero-shot', 'adapter on the random backbone',
        'adapter on the pre-trained backbone')
STAGES = ('a  photo dataset', 'b  captions', 'c  pre-training', 'd  zero-shot, pre-trained',
          'e  adapter, random backbone', 'e  adapter, pre-trained backbone', 'f  scoring, pre-trained backbone')


def run_demo(workdir, cwd, *options):
    options = options or ('--pretrain-epochs', '2')
    result = subprocess.run([sys.executable, '-m', 'pyiqa_uniqa', 'demo', '--workdir', str(workdir), '--epochs', '1',
                             *options], cwd=cwd, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def results_table(stdout):
    return {label: (float(srcc), float(plcc))
            for label, srcc, plcc in re.findall(r'^  (\S.*?)\s+(-?\d\.\d{4})\s+(-?\d\.\d{4})$', stdout, re.M)}


@pytest.fixture(scope='module')
def demo_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo')
    workdir = root / 'work'
    return root, workdir, run_demo(workdir, root), run_demo(workdir, root)


def test_every_stage_runs_with_progress_and_the_table_is_printed(demo_runs):
    _, _, first, _ = demo_runs
    for stage in STAGES:
        assert f'[{stage}] done in' in first, stage
    # progress: step and loss of each training, validation SRCC of each
    for label, loss in (('c  pre-training', 'contrastive loss'), ('e  adapter, random backbone', 'mos loss'),
                        ('e  adapter, pre-trained backbone', 'mos loss')):
        assert re.search(rf'^  {label}: step \d+/\d+  {loss} \d', first, re.M), label
        assert re.search(rf'^  {label}: validation on photos_val: SRCC -?\d\.\d{{4}}', first, re.M), label
    table = results_table(first)
    assert list(table) == list(ROWS)
    assert all(-1 <= v <= 1 for pair in table.values() for v in pair)
    assert re.search(r'Backbone: tiny CLIP .*pre-trained here on template captions', first)
    assert re.search(r'^     total\s+\d+\.\d s$', first, re.M)


def test_a_second_run_reuses_the_data_and_prints_the_same_table(demo_runs):
    _, _, first, second = demo_runs
    assert results_table(second) == results_table(first)
    assert re.search(r'\d+ train images: 0 captioned now, \d+ reused', second)


def test_files_are_written_in_the_workdir(demo_runs):
    root, workdir, _, _ = demo_runs
    meta = pd.read_csv(workdir / 'datasets' / 'uniqa_demo_photos' / 'meta_info.csv')
    photos = {split: set(meta.photo[meta.split == split]) for split in ('train', 'val', 'test')}
    assert len(photos['test']) > 2 and not photos['test'] & (photos['train'] | photos['val'])
    captions = [json.loads(line) for line in (workdir / 'captions' / 'template.jsonl').read_text().splitlines()]
    assert sorted(c['image'] for c in captions) == sorted(meta.img_name[meta.split == 'train'])
    assert all(c['caption'].startswith('The quality of the image is ') for c in captions)
    backbone = torch.load(workdir / 'uniqa_demo_backbone.pt', weights_only=True)
    assert set(backbone) == set(create_clip('tiny-clip-32px-quickgelu').state_dict())  # the official layout
    adapter = torch.load(workdir / 'uniqa_demo_adapter.pth', weights_only=True)['params']
    assert set(adapter) == {'adapter.fc.0.weight', 'adapter.fc.2.weight', 'score_level'}
    assert (workdir / 'uniqa_demo_stages.png').stat().st_size > 0
    assert not (root / 'experiments').exists()  # everything stays in the work folder
    assert sorted(p.name for p in (workdir / 'experiments').iterdir()) == [
        'uniqa_demo_adapter_pretrained', 'uniqa_demo_adapter_random', 'uniqa_demo_pretrain']  # reruns replace


def test_the_reuse_lines_rebuild_the_final_scorer(demo_runs, tmp_path):
    import pyiqa

    from pyiqa_uniqa.apps.uniqa_demo.demo_report import HeldOut, evaluate

    _, workdir, first, _ = demo_runs
    lines = first[first.index('Reuse the result:'):].splitlines()
    create = next(line.strip() for line in lines if 'pyiqa.create_metric(' in line)
    namespace = {'pyiqa': pyiqa}
    exec(create, namespace)  # the printed line, as a user pastes it
    metric = namespace['metric']
    held_out = HeldOut.read(workdir / 'datasets' / 'uniqa_demo_photos')
    result = evaluate('reused', metric.net, held_out, progress=False)
    assert result.srcc == pytest.approx(results_table(first)['adapter on the pre-trained backbone'][0], abs=5e-5)
    image = workdir / 'datasets' / 'uniqa_demo_photos' / held_out.names[0]
    assert metric(str(image)).item() == pytest.approx(result.scores[0], abs=1e-5)  # a file path, as users call it
    # the printed command line scores a folder with the same scorer
    folder = tmp_path / 'photos'
    folder.mkdir()
    for name in held_out.names[:3]:
        shutil.copy(workdir / 'datasets' / 'uniqa_demo_photos' / name, folder / Path(name).name)
    command = next(line.strip() for line in lines if line.strip().startswith('pyiqa-uniqa score'))
    command = command.replace('<folder>', str(folder)).replace('scores.csv', str(tmp_path / 'scores.csv'))
    argv = shlex.split(command)
    subprocess.run([sys.executable, '-m', 'pyiqa_uniqa', *argv[1:]], check=True, capture_output=True, timeout=600)
    table = pd.read_csv(tmp_path / 'scores.csv')
    for path, value in zip(table['path'], table['uniqa-level']):
        assert value == pytest.approx(metric(path).item(), abs=1e-5), path


def test_quick_runs_only_the_adapter_on_the_random_backbone(demo_runs, tmp_path):
    _, workdir, first, _ = demo_runs
    shutil.copytree(workdir / 'datasets', tmp_path / 'work' / 'datasets')  # built once, reused
    quick = run_demo(tmp_path / 'work', tmp_path, '--quick')
    assert list(results_table(quick)) == ['random init, zero-shot', 'adapter on the random backbone']
    assert results_table(quick) == {k: v for k, v in results_table(first).items() if k in results_table(quick)}
    assert '[b  captions]' not in quick and '[c  pre-training]' not in quick
    assert "backbone_weights='random'" in quick and '(--quick)' in quick


def test_the_training_loop_becomes_progress_lines():
    class Model:  # what pyiqa's training model tells the callbacks
        opt = {'logger': {'print_freq': 4}}
        best_metric_results = {'photos_val': {'srcc': {'val': 0.1737, 'iter': 100}}}

        def get_current_log(self):
            return {'l_contrastive': 4.03691, 'logit_scale': 14.2}

        def get_current_learning_rate(self):
            return [9.86e-4, 9.86e-4]

    shown = []
    progress, model = ProgressLines('c  pre-training', shown.append), Model()
    progress.started(model, 462)
    for iteration in (35, 36):  # one line per print_freq iterations
        progress.iteration_done(model, iteration)
    progress.validated(model, 100, 'photos_val', {'srcc': 0.1737, 'plcc': 0.21})
    assert shown == ['  c  pre-training: step 36/462  contrastive loss 4.0369  lr 9.86e-04',
                     '  c  pre-training: validation on photos_val: SRCC 0.1737 (best 0.1737 at step 100)']


def test_held_out_scores_correlate_as_reported():
    """``evaluate`` scores each image once, in file order, and its SRCC/PLCC are scipy's."""
    from PIL import Image

    from pyiqa_uniqa.apps.uniqa_demo.demo_report import HeldOut, evaluate

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, size, dtype=np.uint8)) for size in
              [(40, 50, 3)] * 5 + [(60, 30, 3)] * 4]
    held_out = HeldOut([f'{i}.png' for i in range(9)], ['p'] * 9, rng.random(9), images)

    class MeanBrightness(torch.nn.Module):
        def forward(self, batch):
            return batch.mean(dim=(1, 2, 3))[:, None]

    result = evaluate('brightness', MeanBrightness(), held_out, progress=False)
    expected = np.array([np.asarray(image, dtype=np.float32).mean() / 255 for image in images])
    assert np.allclose(result.scores, expected, atol=1e-6)
    assert result.srcc == pytest.approx(stats.spearmanr(expected, held_out.mos)[0])
    assert result.plcc == pytest.approx(stats.pearsonr(result.scores, held_out.mos)[0])


def test_a_failed_training_stage_reports_the_end_of_its_output(tmp_path):
    from pyiqa_uniqa.apps.uniqa_demo.demo_training import DemoStageError, TrainingJob

    job = TrainingJob('c  pre-training', tmp_path / 'missing.yml', tmp_path)
    with pytest.raises(DemoStageError, match=r'(?s)c  pre-training failed \(exit status 2\).*missing.yml: no such'):
        job.wait()
    running = TrainingJob('e  adapter', tmp_path / 'missing.yml', tmp_path)
    running.stop()  # what the demo does to every job when a stage fails
    assert running.process.exitcode is not None
