"""``pyiqa-uniqa bench-train``: two runs of a recipe, with and without the feature cache, side by side."""
import re
import subprocess
import sys
from pathlib import Path

from pyiqa_uniqa.apps.bench_train import report
from pyiqa_uniqa.training.measurement import TrainRun, official_validation

RECIPE = Path(__file__).with_name('tiny_train.yml')


def test_validation_takes_the_official_shape():
    # the UniQA demo: 3,328 training forwards; 1.25 x 3,328 / 10 passes / 32 crops = 13 images a pass
    assert official_validation(3328, 205, 32) == (13, 10)
    # a validation set too small for 10 passes at the ratio: all of it, as often as the ratio allows
    assert official_validation(1000, 10, 1) == (10, 125)
    assert official_validation(10, 50, 1, ratio=0.01) == (1, 10)


def test_bench_train_prints_the_runs_side_by_side_with_equal_validation(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'pyiqa_uniqa', 'bench-train', '-opt', str(RECIPE),
                             '--workdir', str(tmp_path / 'work'), '--val-ratio', '5', '--val-passes', '3',
                             '--precision', 'bf16', '--rounds', '1',
                             '--feature-reuse', '1', '--force_yml', 'network:crop_size=32', 'train:total_iter=16'],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    # 16 x 4 training images; 5 x 64 / 3 passes / 5 crops: 21 of the 22 validation images
    assert ('16 iterations of 4 images (64 training forwards); validation every 6 iterations and at the end on 21 '
            'of the 22 validation images x 5 frozen-tower crops (~4.92 validation crop forwards per training forward)') in out
    columns = r'\s+'.join(['fp32, cache off', 'fp32, cache on', 'bf16, cache on', 'fp32, cache on, reuse 1'])
    assert re.search(columns, out)
    assert re.search(r'CPU time \(s\)(\s+\d+\.\d){4}\n  relative to the first run\s+1\.00', out)
    # 13 iterations make an epoch of the 55 training images: the reuse run encodes them once
    assert re.search(r'frozen-tower images, train\s+64\s+64\s+64\s+52\s', out)
    assert re.search(r'frozen-tower images, val\s+315\s+105\s+105\s+105\s', out)  # the first pass only
    passes = [line for line in out.splitlines() if re.match(r'  iter +(6|12|16): srcc \S+ \| ', line)]
    assert len(passes) == 3
    for line in passes:
        off, on = re.findall(r'srcc (\S+) \| (\S+)', line)[0]
        assert off == on
    assert re.search(r'max \|validation score - "fp32, cache on"\|\s+0\s+0\s+\S+\s+\S+', out)
    assert re.search(r'held-out test split srcc \(last weights\)(\s+-?0\.\d{6}){4}', out)
    assert 'fp32, cache on: frozen-feature cache: 21 inputs in' in out
    assert 'training-feature reuse: 52 images x up to 1 views' in out and '12 drawn from stored views' in out


def _run(label, wall, cpu, score=0.5):
    import torch
    return TrainRun(label, wall_s=wall, cpu_s=cpu, validations=[(10, {'srcc': score})],
                    val_scores=[torch.tensor([score, 1.0])])


def test_the_report_gives_medians_with_their_range_and_per_round_ratios():
    # round 2 ran on a slower machine: both variants slowed alike, so their ratio stays 0.5
    off = [_run('fp32, cache off', 10.0, 8.0), _run('fp32, cache off', 30.0, 8.4), _run('fp32, cache off', 12.0, 8.2)]
    on = [_run('fp32, cache on', 5.0, 4.0), _run('fp32, cache on', 15.0, 4.4), _run('fp32, cache on', 6.6, 4.1)]
    out = report([off, on])
    assert re.search(r'wall time \(s\)\s+12\.0 \(10\.0–30\.0\)\s+6\.6 \(5\.0–15\.0\)', out)
    assert re.search(r'relative to the first run\s+1\.00 \(1\.00–1\.00\)\s+0\.50 \(0\.50–0\.55\)', out)
    assert re.search(r'over the rounds: max \|score - round 1\|\s+0\s+0', out)
