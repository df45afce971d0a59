"""The app's numbers equal ``pyiqa-uniqa score``'s; concurrent requests batch; a full queue says busy."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from pyiqa_uniqa.apps.app.batcher import Batcher
from pyiqa_uniqa.apps.app.limits import BusyError


def test_scores_equal_the_score_command(service, photo_folder, metric_options, tmp_path):
    from pyiqa_uniqa.apps.cli import main
    from pyiqa_uniqa.apps.scoring.table import read_table

    out = tmp_path / 'scores.csv'
    assert main(['score', '-m', 'piqe', 'uniqa', 'attiqa', '--metric-opt', str(metric_options), '--images',
                 str(photo_folder), '--out', str(out), '--device', 'cpu', '--num-workers', '0', '--no-progress']) == 0
    table = read_table(out).set_index('path')
    for path in sorted(photo_folder.glob('*.png')):
        answer = service.score(path, metrics=['piqe', 'uniqa', 'attiqa'])['metrics']
        row = table.loc[str(path)]
        for label in ('piqe', 'uniqa', 'attiqa'):  # the same float: one image per pass in both
            assert answer[label]['score'] == row[label]
        for attribute, value in answer['attiqa']['attributes'].items():
            assert value == row[f'attiqa.{attribute}']


def test_describes_compares_and_notes_test_weights(service, photo_folder):
    paths = sorted(photo_folder.glob('*.png'))
    cell = service.score(paths[0], metrics=['depictqa'])['metrics']['depictqa']
    assert isinstance(cell['description'], str) and 0 <= cell['confidence'] <= 1
    assert cell['low_confidence'] == (cell['confidence'] < 0.5)
    result = service.compare(paths[0], paths[1], ref=paths[2])
    assert result['metrics']['psnr']['better'] in ('A', 'B')  # full-reference: against the reference
    assert result['verdicts']['depictqa']['answer'] in ('Image A', 'Image B')
    assert 'depictqa' in result['verdicts']['depictqa']['text']
    reasoning = service.compare(paths[0], paths[1], metrics=['depictqa'], detail=True)['verdicts']['depictqa']
    assert reasoning['text'].startswith('depictqa answers: ')
    assert reasoning['confidence'] is None or 0 <= reasoning['confidence'] <= 1  # None: no sentence embedder
    assert any('uniqa runs on random or tiny test weights' in note for note in result['notes'])
    assert not any(note.startswith('piqe') for note in result['notes'])


def test_concurrent_requests_share_forward_passes(service, photo_folder):
    path = min(photo_folder.glob('*.png'))
    alone = service.score(path, metrics=['piqe'])['metrics']['piqe']['score']
    before = service.batcher.forward_passes
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: service.score(path, metrics=['piqe']), range(16)))
    assert all(a['metrics']['piqe']['score'] == pytest.approx(alone, rel=1e-5) for a in answers)
    assert service.batcher.forward_passes - before < 16  # some requests were batched together


def test_a_full_queue_answers_busy_at_once():
    release = threading.Event()
    batcher = Batcher(lambda group, items: release.wait() and items, lambda group: 4, queue_size=1, wait_s=0)
    try:
        with batcher.admit():
            future = batcher.submit('g', 1)
            started = time.monotonic()
            with pytest.raises(BusyError, match='busy.*retry'), batcher.admit():
                pass
            assert time.monotonic() - started < 1
            assert batcher.rejected == 1
            release.set()
            assert future.result(timeout=5) == 1
    finally:
        release.set()
        batcher.close()


def test_a_failing_item_fails_only_its_own_request():
    def run(group, items):
        if 'bad' in items:
            raise ValueError('bad input')
        return [item.upper() for item in items]

    gate = threading.Event()
    batcher = Batcher(lambda g, items: gate.wait() and run(g, items), lambda group: 8, queue_size=8, wait_s=0.05)
    try:
        futures = [batcher.submit('g', item) for item in ('a', 'bad', 'c')]
        gate.set()
        assert futures[0].result(timeout=5) == 'A' and futures[2].result(timeout=5) == 'C'
        with pytest.raises(ValueError, match='bad input'):
            futures[1].result(timeout=5)
    finally:
        batcher.close()
