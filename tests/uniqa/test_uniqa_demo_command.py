"""The README's main job, `pyiqa-uniqa demo`, end to end (one epoch to keep it short)."""
import re
import subprocess
import sys

import torch


def test_demo_trains_an_adapter_and_reports_held_out_figures(tmp_path):
    workdir = tmp_path / 'demo'
    result = subprocess.run([sys.executable, '-m', 'pyiqa_uniqa', 'demo', '--workdir', str(workdir), '--epochs', '1'],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    figures = dict(re.findall(r'(before|after) training:\s+SRCC (-?\d\.\d+)', result.stdout))
    assert set(figures) == {'before', 'after'}
    assert all(-1 <= float(v) <= 1 for v in figures.values())
    checkpoint = torch.load(workdir / 'experiments' / 'uniqa_demo' / 'models' / 'net_best.pth')['params']
    assert set(checkpoint) == {'adapter.fc.0.weight', 'adapter.fc.2.weight', 'score_level'}
    assert (workdir / 'uniqa_demo_scatter.png').stat().st_size > 0
    assert not (tmp_path / 'experiments').exists()  # everything stays in the work folder
