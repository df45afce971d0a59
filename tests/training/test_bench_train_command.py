"""``pyiqa-uniqa bench-train``: two runs of a recipe, with and without the feature cache, side by side."""
import re
import subprocess
import sys
from pathlib import Path

import yaml

from pyiqa_uniqa.training.recipe_runner import official_val_freq

RECIPE = Path(__file__).with_name('tiny_train.yml')


def test_validation_frequency_follows_the_official_ratio():
    opt = {'datasets': {'train': {'batch_size_per_gpu': 8}}}
    # 160 iterations x 8 images = 1280 training forwards; 1.25 x 1280 = 1600 ~ 4 passes of 410 crops
    assert official_val_freq(opt, 160, 410) == 40
    assert official_val_freq(opt, 160, 410, ratio=0.1) == 160  # at least one pass, at the end
    assert official_val_freq(opt, 10, 1, ratio=100) == 1


def test_bench_train_prints_both_runs_with_equal_validation(tmp_path):
    opt = yaml.safe_load(RECIPE.read_text().replace('DATAROOT', 'tiny_photos'))
    opt['network']['crop_size'] = 32
    opt['train']['total_iter'] = 12
    (tmp_path / 'tiny.yml').write_text(yaml.safe_dump(opt))
    result = subprocess.run([sys.executable, '-m', 'pyiqa_uniqa', 'bench-train', '-opt', 'tiny.yml',
                             '--workdir', str(tmp_path / 'work'), '--val-ratio', '6'],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    # 12 x 4 training images; 2 photos x 11 images x 5 crops = 110 per pass: 6 x 48 / 110 ~ 3 passes
    assert '12 iterations of 4 images; validation of 22 images (110 frozen-tower crops per pass) every 4' in out
    assert re.search(r'frozen-tower images, train\s+48\s+48\s+1\.00', out)
    assert re.search(r'frozen-tower images, val\s+330\s+110\s+0\.33', out)  # encoded in the first pass only
    lines = [line for line in out.splitlines() if re.match(r'  iter +(4|8|12):', line)]
    assert len(lines) == 3
    for line in lines:
        off, on = re.findall(r'srcc (\S+) \| (\S+)', line)[0]
        assert off == on
    assert 'largest difference of any validation score between the runs: 0' in out
    assert '22 inputs in' in out
