"""Every command and snippet in README.md and docs/*.md runs, or says why it cannot.

Each fenced block names its language. A ``bash`` block runs in a shell, a ``python`` block in this
process (in its own namespace), in a fresh folder holding small photos (``photo.png``, ``photo.jpg``,
``a.png``, ``b.png``, ``a_ref.png``, ``b_ref.png``), offline (``HF_HUB_OFFLINE=1``, an empty
``$TORCH_HOME``), unless the line before it is

- ``<!-- not-run: <reason> -->``: it needs what no test has (real weights, a dataset, a GPU);
- ``<!-- slow: <reason> -->``: it runs minutes (the demos); ``PYIQA_UNIQA_DOCS=all pytest tests/test_docs.py``
  runs these too;
- ``<!-- ci:install -->`` / ``<!-- ci:test -->``: ``.ci/run`` runs it in a fresh environment.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]
RUN = {'bash', 'python'}
MARKER = re.compile(r'<!-- (not-run|slow|ci:install|ci:test)(?::\s*(.*?))? -->')
TIMEOUT_S = 300


def blocks(page):
    """(line, language, code, marker, reason) of every fenced block of ``page``."""
    lines = page.read_text(encoding='utf-8').split('\n')
    found, start = [], None
    for number, line in enumerate(lines):
        if not line.startswith('```'):
            continue
        if start is None:
            start, language = number, line[3:].strip()
            continue
        before = next((text for text in reversed(lines[:start]) if text.strip()), '')
        marker = MARKER.fullmatch(before.strip())
        found.append((start + 1, language, '\n'.join(lines[start + 1:number]),
                      marker.group(1) if marker else None, (marker.group(2) or '') if marker else ''))
        start = None
    return found


CASES = [pytest.param(page, *block, id=f'{page.relative_to(ROOT)}:{block[0]}') for page in PAGES
         for block in blocks(page)]


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    """The small photos the snippets name, written once: references, and blurred copies to score."""
    from PIL import Image, ImageFilter

    from pyiqa_uniqa.data.photos import load_photos

    folder = tmp_path_factory.mktemp('doc_photos')
    (_, chelsea), (_, coffee) = load_photos(['chelsea', 'coffee'])
    for name, array in [('a', chelsea), ('b', coffee)]:
        reference = Image.fromarray(array).resize((96, 64))
        reference.save(folder / f'{name}_ref.png')
        reference.filter(ImageFilter.GaussianBlur(1.5)).save(folder / f'{name}.png')
    Image.open(folder / 'a.png').save(folder / 'photo.png')
    Image.open(folder / 'a.png').save(folder / 'photo.jpg', quality=90)
    return folder


@pytest.mark.parametrize('page, line, language, code, marker, reason', CASES)
def test_the_block_names_its_language_and_runs_or_says_why_not(page, line, language, code, marker, reason,
                                                                 photos, tmp_path, monkeypatch):
    assert language, 'name the language (bash, python, yaml, text) so a command cannot hide in an untagged block'
    if language not in RUN:
        return
    if marker == 'not-run':
        assert reason, 'say why it cannot run: <!-- not-run: needs ... -->'
        pytest.skip(f'not-run: {reason}')
    if marker and marker.startswith('ci:'):
        pytest.skip('run by .ci/run')
    if marker == 'slow' and os.environ.get('PYIQA_UNIQA_DOCS') != 'all':
        pytest.skip(f'slow ({reason}); PYIQA_UNIQA_DOCS=all runs it')
    for photo in photos.iterdir():
        (tmp_path / photo.name).write_bytes(photo.read_bytes())
    offline = {'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'TORCH_HOME': str(tmp_path / 'torch_home'),
               'OMP_NUM_THREADS': '1', 'MPLBACKEND': 'Agg'}
    monkeypatch.chdir(tmp_path)
    if language == 'python':  # in this process: a snippet costs its own work, not another torch import
        for name, value in offline.items():
            monkeypatch.setenv(name, value)
        exec(compile(code, f'{page.name}:{line}', 'exec'), {'__name__': '__main__'})  # noqa: S102 - our docs
        return
    environment = {**os.environ, **offline, 'PYTHONPATH': str(ROOT),
                   'PATH': f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}'}
    result = subprocess.run(['bash', '-euo', 'pipefail', '-c', code], cwd=tmp_path, env=environment,
                            capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, f'{page.name}:{line} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}'


def test_every_page_is_read():
    assert {page.name for page in PAGES} >= {'README.md', 'api.md', 'architecture.md', 'weights.md'}
    assert len(CASES) >= 40  # the blocks are really found
