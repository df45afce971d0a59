"""``pyiqa-uniqa protocol`` end to end on the photo datasets: interrupted, resumed in shards, merged; and the
mistakes it refuses before any unit starts."""
import csv
import json
import signal
import subprocess
import sys
import time

import pytest
import yaml

from pyiqa_uniqa.apps.cli import main

COMPLETE = '"state": "complete"'


def results(out):
    return {path.parent.relative_to(out).as_posix(): path for path in sorted(out.glob('units/**/result.json'))}


def run_protocol(cwd, *extra):
    command = [sys.executable, '-m', 'pyiqa_uniqa', 'protocol', '-opt', 'protocol.yml', '--out', 'out', *extra]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=400, check=False)


def test_interrupted_protocol_resumes_in_shards_and_merges_into_one_table(tmp_path, write_protocol):
    # two settings: 'full' everywhere, and one that fails (more labels than photos-b has) on photos-b only
    write_protocol(settings={'full': [], 'too-many-labels': {'overrides': ['datasets:train:num_labels=100000'],
                                                             'datasets': ['photos-b']}})
    out = tmp_path / 'out'
    command = [sys.executable, '-m', 'pyiqa_uniqa', 'protocol', '-opt', 'protocol.yml', '--out', 'out']
    first = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while first.poll() is None and time.time() < deadline and not any(
            COMPLETE in path.read_text() for path in results(out).values()):
        time.sleep(0.1)
    if first.poll() is not None:
        pytest.fail(f'the protocol ended before it could be interrupted:\n{first.stdout.read()[-3000:]}')
    first.send_signal(signal.SIGTERM)
    log = first.communicate(timeout=60)[0]
    assert first.returncode == 143, log[-3000:]
    finished = {unit: path.read_text() for unit, path in results(out).items()}
    assert len(finished) == 1, f'expected one finished unit at the interruption, got {sorted(finished)}'
    (unit, record), = finished.items()
    assert COMPLETE in record
    stamp = (out / unit / 'result.json').stat().st_mtime_ns
    manifest = json.loads((out / 'manifest.json').read_text())
    assert len(manifest['units']) == 6  # 2 datasets x 2 splits 'full' + photos-b x 2 splits 'too-many-labels'

    assert main(['protocol', '--merge', '--out', str(out)]) == 1  # incomplete, but a table already
    assert 'not run yet' in (out / 'results.md').read_text()

    shards = [run_protocol(tmp_path, '--shard', shard, '--jobs', '2') for shard in ('0/2', '1/2')]
    for shard in shards:
        assert shard.returncode == 1, shard.stderr[-3000:]  # each shard holds one failing unit
    said = shards[0].stderr + shards[1].stderr
    assert f'{" / ".join(unit.split("/")[1:4])} / split 1: finished before, not run again' in said
    assert (out / unit / 'result.json').stat().st_mtime_ns == stamp, 'a finished unit ran again'
    assert (out / unit / 'train.log').read_text().count('\n=== ') == 1

    assert main(['protocol', '--merge', '--out', str(out), '--selection', 'both']) == 1  # two units failed
    report = (out / 'results.md').read_text()
    assert report.count('failed (units/uniqa-tiny/photos-b/too-many-labels/') == 2
    assert 'num_labels=100000' in report and 'not run yet' not in report
    rows = list(csv.DictReader((out / 'results.csv').open()))
    full = [r for r in rows if r['setting'] == 'full']
    assert {(r['trained_on'], r['tested_on'], r['selection']) for r in full} == {
        (trained, tested, rule) for trained, other in (('photos-a', 'photos-b'), ('photos-b', 'photos-a'))
        for tested in (f'{trained} test part', f'{other} (whole)') for rule in ('honest', 'test')}
    assert all(r['splits_done'] == '2' and r['srcc_median'] not in ('', 'nan') for r in full)
    assert {r['splits_done'] for r in rows if r['setting'] == 'too-many-labels'} == {'0'}

    # the papers' way takes each tested set's best validation: never below the honest checkpoint's value
    per_split = list(csv.DictReader((out / 'per_split.csv').open()))
    by_rule = {(r['trained_on'], r['tested_on'], r['split'], r['selection']): float(r['srcc']) for r in per_split}
    for (trained, tested, split, rule), value in by_rule.items():
        if rule == 'honest':
            assert by_rule[(trained, tested, split, 'test')] >= value
    assert (out / 'spread.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    protocol = yaml.safe_load((out / 'protocol.yml').read_text())
    assert protocol == manifest['protocol'] and protocol['splits'] == 2
    honest = json.loads((out / unit / 'result.json').read_text())['selected']['honest']
    assert (out / unit / honest['checkpoint']).is_file()
    assert not list(out.glob('units/**/net_best.pth'))


@pytest.mark.parametrize('changes, message', [
    ({'splits': 0}, 'splits must be a whole number >= 1'),
    ({'datasets': ['photos-z']}, "unknown dataset 'photos-z'"),
    ({'recipes': {'r': 'no_such_recipe.yml'}}, 'no_such_recipe.yml: no such recipe'),
    ({'settings': {'full': ['trian:total_epoch=1']}}, "no section 'trian'"),
    ({'cross': {'photos-c': ['photos-a']}}, "cross names ['photos-c']"),
    ({'overrides': ['path:pretrain_network=missing_adapter.pth']}, 'missing_adapter.pth does not exist'),
    ({'colour': 'blue'}, "unknown protocol keys ['colour']"),
])
def test_a_mistake_is_one_message_and_nothing_is_written(tmp_path, write_protocol, changes, message, capsys,
                                                        monkeypatch):
    write_protocol(**changes)
    monkeypatch.chdir(tmp_path)
    assert main(['protocol', '-opt', 'protocol.yml', '--out', 'out']) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_an_output_folder_of_another_protocol_is_refused(tmp_path, write_protocol, capsys, monkeypatch):
    write_protocol()
    monkeypatch.chdir(tmp_path)
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'manifest.json').write_text(json.dumps({'protocol': {'name': 'other', 'splits': 3}, 'units': []}))
    assert main(['protocol', '-opt', 'protocol.yml', '--out', 'out']) == 2
    assert 'holds another protocol (it differs in: ' in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ['manifest.json']
