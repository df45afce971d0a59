"""The page's handlers: each bad request a clear message (``gr.Error``), the Explore tab's table work,
and the command's checks before any model loads."""
import socket

import gradio as gr
import pytest

from pyiqa_uniqa.apps.app import explore
from pyiqa_uniqa.apps.app.limits import ServedFolders
from pyiqa_uniqa.apps.app.page import Page


@pytest.fixture(scope='module')
def page(service, photo_folder):
    return Page(service, ServedFolders([photo_folder]))


def test_each_bad_request_gets_a_clear_message_on_the_page(page, photo_folder, tmp_path):
    from pyiqa_uniqa.testing.bad_images import png_header_only

    text = tmp_path / 'notes.png'
    text.write_text('not a picture')
    huge = tmp_path / 'huge.png'
    huge.write_bytes(png_header_only(40000, 40000))
    photo = str(photo_folder / 'coffee.png')
    cases = {
        'no image': (([], '', None, None), 'No image: drop one or more images'),
        'non-image': (([str(text)], '', None, None), 'notes.png: not an image'),
        'huge image': (([str(huge)], '', None, None), '1,600,000,000 pixels, more than the 50,000,000 this server accepts'),
        'unknown metric': (([photo], '', None, ['piqe', 'nosuch']), "unknown metric 'nosuch'"),
        'outside the served folders': (([], str(tmp_path), None, None), 'outside the folders this server serves'),
    }
    for arguments, words in cases.values():
        with pytest.raises(gr.Error, match=words):
            page.score(*arguments)
    message, table, gallery, *_ = page.score([photo, str(text)], '', None, ['piqe'])
    assert 'notes.png: not an image' in message  # refused beside one that is scored
    assert list(table['image']) == ['coffee.png', 'notes.png'] and table['piqe'][0] > 0 and len(gallery) == 1
    with pytest.raises(gr.Error, match='Compare needs two images'):
        page.compare(photo, None, None, None, False)


def test_score_a_served_folder_with_attributes_and_descriptions(page, photo_folder):
    _, table, gallery, bars, descriptions, _ = page.score([], str(photo_folder), None, ['attiqa', 'depictqa'])
    assert len(table) == len(gallery) == 4
    assert set(bars['attribute']) == {f'attiqa.{a}' for a in ('sharpness', 'brightness', 'contrast', 'colorfulness',
                                                              'noisiness')}
    assert descriptions.count('(confidence ') == 4


def test_explore_ranks_by_lower_better_filters_and_draws_one_histogram_per_metric(page, photo_folder, tmp_path):
    from pyiqa_uniqa.apps.scoring.table import write_table

    rows = [{'path': str(photo_folder / f'{name}.png'), 'piqe': piqe, 'uniqa': uniqa, 'error': ''}
            for name, piqe, uniqa in (('astronaut', 30.0, 0.2), ('chelsea', 10.0, 0.9), ('coffee', 20.0, 0.5))]
    table_path = tmp_path / 'scores.parquet'
    write_table(rows, table_path)
    table, choice, summary, shown, figure, best, _, note = page.open_table(str(table_path), '')
    assert summary.startswith('3 rows') and choice['choices'] == ['piqe', 'uniqa'] and choice['value'] == 'piqe'
    assert shown['path'].iloc[0].endswith('chelsea.png')  # piqe: lower is better
    assert [caption.split(':')[0] for _, caption in best] == ['chelsea.png', 'coffee.png', 'astronaut.png']
    assert len(figure.axes) >= 2 and note == ''
    assert list(explore.ranked(table, 'uniqa')['uniqa']) == [0.9, 0.5, 0.2]  # higher is better
    shown, _, best, _, _ = page.show(table, 'uniqa', 'co')
    assert list(shown['path'].str.endswith('coffee.png')) == [True]
    with pytest.raises(gr.Error, match='not a score table'):
        bad = tmp_path / 'other.csv'
        bad.write_text('a,b\n1,2\n')
        page.open_table(str(bad), '')
    with pytest.raises(gr.Error, match='outside the folders'):
        page.open_table(None, str(table_path))


def test_the_command_refuses_bad_flags_before_loading(tmp_path, capsys):
    from pyiqa_uniqa.apps.cli import main

    with socket.socket() as free:
        free.bind(('127.0.0.1', 0))
        free_port = free.getsockname()[1]
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        port = busy.getsockname()[1]
        cases = {
            ('-m', 'piqe', '--folders', str(tmp_path / 'none')): 'no such folder',
            ('-m', 'piqe', '--queue-size', '100'): '--queue-size must be between 1 and 32',
            ('-m', 'piqe', '--batch-wait-ms', '-1'): '--batch-wait-ms must be 0 or more',
            ('-m', 'piqe', '--max-pixels', '0'): '--max-pixels must be positive',
            ('-m', 'piqe', '--port', str(port)): 'cannot listen there',
            ('-m', 'nosuch_metric', '--port', str(free_port)): "unknown metric 'nosuch_metric'",
            (): 'no metrics given',
        }
        for flags, words in cases.items():
            assert main(['app', *flags]) == 2
            assert words in capsys.readouterr().err
