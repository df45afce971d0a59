"""Commands import torchvision without torch._dynamo, and nothing behaves differently for it."""
import subprocess
import sys

import numpy as np
from PIL import Image


def _run(code):
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_pyiqa_imports_without_dynamo_and_roi_align_and_compile_still_work():
    out = _run('''
import sys
from pyiqa_uniqa.apps import quick_torchvision
quick_torchvision.install()
import pyiqa, torch
print('torch._dynamo' in sys.modules, 'torch._dynamo.utils' in sys.modules)
from torchvision.ops import roi_align
pooled = roi_align(torch.arange(64.).reshape(1, 1, 8, 8), torch.tensor([[0, 0., 0., 4., 4.]]), output_size=1)
print(round(float(pooled), 3))
from torch._dynamo.utils import is_compile_supported
print(quick_torchvision.is_compile_supported('cpu') == is_compile_supported('cpu'))
print(float(torch.compile(lambda x: x * 2 + 1, backend='eager')(torch.ones(1))))
''')
    assert out == ['False', 'False', '18.0', 'True', '3.0']


def test_any_other_name_of_the_stand_in_loads_the_real_module():
    out = _run('''
import sys
from pyiqa_uniqa.apps.quick_torchvision import DYNAMO_UTILS, _StandIn
stand_in = sys.modules[DYNAMO_UTILS] = _StandIn(DYNAMO_UTILS)
print(callable(stand_in.is_compile_supported), 'torch._dynamo' in sys.modules)
counters = stand_in.counters  # not the one function: the real module comes in and stays
print(type(counters).__name__, sys.modules[DYNAMO_UTILS] is not stand_in, hasattr(stand_in, '__path__'))
''')
    assert out == ['True', 'False', 'defaultdict', 'True', 'False']


def test_a_score_command_starts_without_dynamo(tmp_path):
    (tmp_path / 'images').mkdir()
    Image.fromarray(np.full((48, 48, 3), 120, np.uint8)).save(tmp_path / 'images' / 'a.png')
    out = _run(f'''
import sys
from pyiqa_uniqa.apps.cli import main
status = main(['score', '-m', 'piqe', '--images', {str(tmp_path / 'images')!r}, '--out',
               {str(tmp_path / 's.csv')!r}, '--no-progress', '--device', 'cpu', '--offline'])
print(status, 'torchvision' in sys.modules, 'torch._dynamo' in sys.modules)
''')
    assert out == ['0', 'True', 'False']
