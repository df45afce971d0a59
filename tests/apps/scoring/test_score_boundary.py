"""`score` checks the whole request before any work, holds its --out, merges only complete jobs,
resumes after Ctrl-C."""
import json
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pyiqa_uniqa.apps import outputs
from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.apps.scoring import engine


@pytest.fixture()
def photos(tmp_path):
    folder = tmp_path / 'photos'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(folder / f'im{i}.png')
    return folder


def _score(*argv):
    return main(['score', *argv, '--device', 'cpu', '--num-workers', '0', '--no-progress'])


@pytest.mark.parametrize('metric, message', [
    ('uniqa:num_crop=2', "unknown option 'num_crop'. Did you mean 'num_crops'?"),
    ('uniqa:num_crops=abc', "num_crops='abc' must be a whole number"),
    ('piqe:block_sise=8', "unknown option 'block_sise'. (piqe: it takes no options.)"),
    ('brisque:test_y_channel=3', 'test_y_channel=3 must be true or false'),
    ('psnr', 'full-reference metric(s) need a reference'),
])
def test_a_wrong_metric_request_is_one_line_before_any_model_loads(photos, tmp_path, monkeypatch, capsys, metric,
                                                                    message):
    monkeypatch.setattr(engine, '_create', lambda *a: pytest.fail('a model was loaded'))
    assert _score('-m', metric, '--images', str(photos), '--out', str(tmp_path / 'out.csv')) == 2
    err = capsys.readouterr().err
    assert err.startswith('pyiqa-uniqa score: error: ') and message in err and err.count('\n') <= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ['photos']


def test_an_option_the_constructor_refuses_is_one_line(photos, tmp_path, capsys, tiny_clip_checkpoint):
    spec = f'uniqa:model_name=tiny-clip-quickgelu,backbone_weights={tiny_clip_checkpoint},num_crops=0'
    assert _score('-m', spec, '--images', str(photos), '--out', str(tmp_path / 'out.csv')) == 2
    err = capsys.readouterr().err
    assert 'uniqa refused the options' in err and 'num_crops and crop_size must be >= 1' in err


@pytest.mark.parametrize('out, message', [
    ('folder.csv', 'is a folder; give a file name'),
    ('/proc/scores.csv', 'cannot write into /proc'),
    ('afile/scores.csv', 'afile is a file'),
])
def test_an_output_that_cannot_be_written_is_refused_before_scoring(photos, tmp_path, monkeypatch, capsys, out,
                                                                   message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'folder.csv').mkdir()
    (tmp_path / 'afile').write_text('')
    monkeypatch.setattr(engine, 'score_rows', lambda *a, **k: pytest.fail('scored before the output was checked'))
    assert _score('-m', 'piqe', '--images', str(photos), '--out', out) == 2
    assert message in capsys.readouterr().err


def test_a_device_the_machine_lacks_is_one_line(photos, tmp_path, monkeypatch, capsys):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert main(['score', '-m', 'piqe', '--images', str(photos), '--out', str(tmp_path / 'o.csv'), '--device', 'cuda',
                 '--no-progress']) == 2
    assert 'no CUDA GPU is usable here' in capsys.readouterr().err


def test_pyiqa_weights_missing_offline_name_the_file_the_url_and_the_folder(photos, tmp_path, monkeypatch, capsys):
    from pyiqa.utils import download_util
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setattr(download_util, 'DEFAULT_CACHE_DIR', str(tmp_path / 'cache'))
    monkeypatch.setattr(download_util, 'download_url_to_file', download_util.download_url_to_file)  # restored after
    assert _score('-m', 'brisque', '--images', str(photos), '--out', str(tmp_path / 'o.csv')) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'brisque_svm_weights.pth' in err and 'https://' in err
    assert f'put it in {tmp_path / "cache"}/' in err and 'Traceback' not in err


def test_a_second_run_on_the_same_out_is_refused_while_the_first_holds_it(photos, tmp_path, capsys):
    out = tmp_path / 'scores.csv'
    with outputs.output_lock(out):
        assert _score('-m', 'piqe', '--images', str(photos), '--out', str(out)) == 2
        assert f'another run (process {os.getpid()}) is writing it' in capsys.readouterr().err
    assert _score('-m', 'piqe', '--images', str(photos), '--out', str(out)) == 0
    assert not (tmp_path / '.scores.csv.lock').exists()


def test_ctrl_c_says_how_many_rows_are_saved_and_the_rerun_resumes(photos, tmp_path, monkeypatch, capsys):
    out = tmp_path / 'scores.csv'
    real, calls = engine._records_of_group, []

    def interrupted_on_the_third(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)
    monkeypatch.setattr(engine, '_records_of_group', interrupted_on_the_third)
    assert _score('-m', 'piqe', '--images', str(photos), '--out', str(out)) == 130
    err = capsys.readouterr().err
    assert 'interrupted: 2 rows saved to the journal' in err and 'run the same command to resume' in err
    assert not out.exists()
    monkeypatch.setattr(engine, '_records_of_group', real)
    assert _score('-m', 'piqe', '--images', str(photos), '--out', str(out)) == 0
    assert '(2 scored now' in capsys.readouterr().err and len(pd.read_csv(out)) == 4


def test_merge_refuses_a_missing_shard_and_merges_a_complete_job(photos, tmp_path, capsys):
    parts = [tmp_path / f'part{i}.csv' for i in range(3)]
    for i, part in enumerate(parts):
        assert _score('-m', 'piqe', '--images', str(photos), '--out', str(part), '--shard', f'{i}/3') == 0
    manifest = json.loads((tmp_path / 'part1.csv.shard.json').read_text())
    assert (manifest['shard'], manifest['of'], manifest['rows']) == (1, 3, 1)
    capsys.readouterr()
    merged = tmp_path / 'all.csv'
    assert main(['score', '--merge', str(parts[0]), str(parts[2]), '--out', str(merged)]) == 2
    assert 'shard(s) 1/3 missing' in capsys.readouterr().err and not merged.exists()
    (tmp_path / 'part1.csv.shard.json').unlink()  # a shard that died between its table and its manifest
    assert main(['score', '--merge', *map(str, parts), '--out', str(merged)]) == 2
    assert 'part1.csv: no part1.csv.shard.json beside it' in capsys.readouterr().err
    assert _score('-m', 'piqe', '--images', str(photos), '--out', str(parts[1]), '--shard', '1/3') == 0
    assert main(['score', '--merge', *map(str, parts), '--out', str(merged)]) == 0
    assert len(pd.read_csv(merged)) == 4


def test_a_csvs_other_columns_are_kept(photos, tmp_path):
    listing = tmp_path / 'list.csv'
    listing.write_text('mos,image,prompt\n3.5,photos/im0.png,a cat\n1.25,photos/im2.png,"a dog, running"\n')
    out = tmp_path / 'scored.csv'
    assert _score('-m', 'piqe', '--images', str(listing), '--out', str(out)) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ['path', 'mos', 'prompt', 'piqe', 'error']
    assert table['mos'].tolist() == [3.5, 1.25] and table['prompt'].tolist() == ['a cat', 'a dog, running']


def test_odd_names_in_a_list_are_row_errors_naming_the_line_and_a_bom_is_no_path(photos, tmp_path):
    (tmp_path / 'loop1').symlink_to('loop2')
    (tmp_path / 'loop2').symlink_to('loop1')
    listing = tmp_path / 'list.txt'
    listing.write_bytes('\ufeffphotos/im0.png\nphotos/a\x00b.png\nloop1/x.png\n'.encode() + b'x' * 300 + b'.png\n')
    out = tmp_path / 'scores.csv'
    assert _score('-m', 'piqe', '--images', str(listing), '--out', str(out)) == 0
    table = pd.read_csv(out, keep_default_na=False).set_index('path')
    assert table.loc[str(tmp_path / 'photos/im0.png'), 'error'] == ''  # the byte-order mark is not in the name
    errors = dict(zip(table.index, table['error']))
    assert any('line 2: the name contains a NUL byte' in e for e in errors.values())
    assert any('line 3' in e and 'cannot be followed' in e for e in errors.values())
    assert any('File name too long' in e for e in errors.values())


def test_a_csv_not_in_utf8_is_one_line(photos, tmp_path, capsys):
    listing = tmp_path / 'list.csv'
    listing.write_bytes('path,name\nphotos/im0.png,caf\xe9\n'.encode('latin-1'))
    assert _score('-m', 'piqe', '--images', str(listing), '--out', str(tmp_path / 'o.csv')) == 2
    assert 'list.csv: not UTF-8 text; save the CSV as UTF-8' in capsys.readouterr().err


def test_a_folder_without_images_is_answered_before_torch_is_imported(tmp_path):
    """The image source is checked first: a user's typo costs no seconds of importing torch and pyiqa."""
    import subprocess
    import sys

    (tmp_path / 'empty').mkdir()
    probe = ('import sys; from pyiqa_uniqa.apps.cli import main; '
             f'status = main(["score", "-m", "piqe", "--images", {str(tmp_path / "empty")!r}, '
             f'"--out", {str(tmp_path / "out.csv")!r}]); '
             'print(status, "torch" in sys.modules, "pyiqa" in sys.modules)')
    done = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ['2', 'False', 'False'], done.stderr
    assert 'no images in folder' in done.stderr and not (tmp_path / 'out.csv').exists()
