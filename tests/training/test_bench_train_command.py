"""``pyiqa-uniqa bench-train``: two runs of a recipe, with and without the feature cache, side by side."""
import re
import subprocess
import sys
from pathlib import Path

from pyiqa_uniqa.training.recipe_runner import official_val_freq

RECIPE = Path(__file__).with_name('tiny_train.yml')


def test_validation_frequency_follows_the_official_ratio():
    opt = {'datasets': {'train': {'batch_size_per_gpu': 8}}}
    # 160 iterations x 8 images = 1280 training forwards; 1.25 x 1280 = 1600 ~ 4 passes of 410 crops
    assert official_val_freq(opt, 160, 410) == 40
    assert official_val_freq(opt, 160, 410, ratio=0.1) == 160  # at least one pass, at the end
    assert official_val_freq(opt, 10, 1, ratio=100) == 1


def test_bench_train_prints_the_runs_side_by_side_with_equal_validation(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'pyiqa_uniqa', 'bench-train', '-opt', str(RECIPE),
                             '--workdir', str(tmp_path / 'work'), '--val-ratio', '5', '--precision', 'bf16',
                             '--feature-reuse', '1', '--force_yml', 'network:crop_size=32', 'train:total_iter=16'],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    # 16 x 4 training images; 2 photos x 11 images x 5 crops = 110 per pass: 5 x 64 / 110 ~ 3 passes
    assert '16 iterations of 4 images; validation of 22 images (110 frozen-tower crops per pass) every 6' in out
    columns = r'\s+'.join(['fp32, cache off', 'fp32, cache on', 'bf16, cache on', 'fp32, cache on, reuse 1'])
    assert re.search(columns, out)
    # 13 iterations make an epoch of the 55 training images: the reuse run encodes them once
    assert re.search(r'frozen-tower images, train\s+64\s+64\s+64\s+52\s', out)
    assert re.search(r'frozen-tower images, val\s+330\s+110\s+110\s+110\s', out)  # the first pass only
    passes = [line for line in out.splitlines() if re.match(r'  iter +(6|12|16): srcc \S+ \| ', line)]
    assert len(passes) == 3
    for line in passes:
        off, on = re.findall(r'srcc (\S+) \| (\S+)', line)[0]
        assert off == on
    assert re.search(r'max \|validation score - "fp32, cache on"\|\s+0\s+0\s+\S+\s+\S+', out)
    assert re.search(r'held-out test split srcc \(last weights\)(\s+-?0\.\d{6}){4}', out)
    assert 'fp32, cache on: frozen-feature cache: 22 inputs in' in out
    assert 'training-feature reuse: 52 images x up to 1 views' in out and '12 drawn from stored views' in out
