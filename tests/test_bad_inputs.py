"""Every wrong input gets a clear answer: one table of entry point x bad input -> expected outcome.

A row is ``Row(entry, bad_input, expect)``:

- ``entry``: how the input is handed over:
  ``command('train', '-opt', '{input}')`` runs ``pyiqa-uniqa`` in a scratch folder ('{input}' is
  replaced by the bad input's path); ``metric('uniqa', **options)`` calls
  ``pyiqa.create_metric(name, **options)(input)``, pyiqa's own loader path for a path, or the
  tensor itself;
- ``bad_input``: a name in ``BAD_INPUTS`` (each writes its file into the folder, or returns a tensor);
- ``expect``: ``SCORE`` (a finite score), or ``error('text')``: a command exits with status 2 and one
  ``pyiqa-uniqa <command>: error:`` message, a call raises a ``UserError`` (or ``kind=...``); either
  way without a traceback, naming the input, and containing ``text``.

A new command or metric family adds rows, not a new test file.
"""
import contextlib
import io
import os
import pickle
import struct
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.testing.bad_images import png_header_only


class Payload:
    def __reduce__(self):
        return (print, ('payload ran',))


def _image(name, array, mode=None, **save):
    def write(folder):
        path = folder / name
        Image.fromarray(array, mode=mode).save(path, **save) if mode else Image.fromarray(array).save(path, **save)
        return path
    return write


def _bytes(name, data):
    def write(folder):
        (folder / name).write_bytes(data() if callable(data) else data)
        return folder / name
    return write


def _truncated_jpeg():
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(buffer, 'JPEG')
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


def _cut_jpeg_with_end_marker():
    from skimage import data
    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, 'JPEG')
    whole = buffer.getvalue()
    return whole[:int(len(whole) * 0.6)] + b'\xff\xd9'  # libjpeg pads the rest with grey, and only warns


def _jpeg_claiming(width, height):
    """A 16x16 JPEG whose frame header says ``width`` x ``height``: a few hundred bytes."""
    buffer = io.BytesIO()
    Image.new('RGB', (16, 16), (120, 130, 140)).save(buffer, 'JPEG')
    data = bytearray(buffer.getvalue())
    frame = data.find(b'\xff\xc0')
    data[frame + 5:frame + 9] = struct.pack('>HH', height, width)
    return bytes(data)


def _png_palette_before_header():
    buffer = io.BytesIO()
    Image.new('P', (8, 8)).save(buffer, 'PNG')
    data = buffer.getvalue()
    header, palette = data.find(b'IHDR') - 4, data.find(b'PLTE') - 4
    header_chunk = data[header:header + 25]
    palette_end = palette + 12 + struct.unpack('>I', data[palette:palette + 4])[0]
    return data[:header] + data[palette:palette_end] + header_chunk + data[palette_end:]


def _cmyk(folder):
    path = folder / 'cmyk.jpg'
    Image.new('CMYK', (40, 32), (0, 128, 255, 30)).save(path)
    return path


def _folder(folder):
    (folder / 'a_folder').mkdir()
    return folder / 'a_folder'


def _png_bytes():
    buffer = io.BytesIO()
    Image.new('RGB', (8, 8)).save(buffer, 'PNG')
    return buffer.getvalue()


BAD_INPUTS = {
    'missing path': lambda folder: folder / 'missing.file',
    'folder': _folder,
    'empty file': _bytes('empty.file', b''),
    'truncated jpeg': _bytes('truncated.jpg', _truncated_jpeg),
    'non-image': _bytes('text.jpg', b'this is not an image\n'),
    '1x1 image': _image('one.png', np.full((1, 1, 3), 200, np.uint8)),
    '20x3000 image': _image('strip.png', np.full((20, 3000, 3), 90, np.uint8)),
    'RGBA image': _image('rgba.png', np.full((32, 40, 4), 120, np.uint8)),
    '16-bit image': _image('sixteen.png', np.full((32, 40), 40000, np.uint16)),
    'CMYK image': _cmyk,
    'grayscale image': _image('gray.png', np.full((32, 40), 77, np.uint8)),
    'NaN tensor': lambda folder: torch.full((1, 3, 32, 32), float('nan')),
    'randn tensor': lambda folder: torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)),
    # found by tests/properties: pyiqa's range check (max < 1 + 1e-6) fails in half precision at 1.0
    'half tensor with white': lambda folder: torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)).half().clamp_(0.1).index_fill_(3, torch.tensor([0]), 1.0),
    'int64 tensor': lambda folder: torch.ones(1, 3, 32, 32, dtype=torch.int64),
    'bool tensor': lambda folder: torch.ones(1, 3, 32, 32, dtype=torch.bool),
    'empty tensor': lambda folder: torch.ones(1, 3, 0, 32),
    'infinite tensor': lambda folder: torch.full((1, 3, 32, 32), float('inf')),
    'two-channel tensor': lambda folder: torch.rand(1, 2, 32, 32),
    'float TIFF': _image('float.tif', np.linspace(0, 0.99, 32 * 40, dtype=np.float32).reshape(32, 40), mode='F'),
    '5x40 image': _image('five_wide.png', np.random.default_rng(0).integers(0, 256, (40, 5, 3), dtype=np.uint8)),
    'JPEG cut at 60% + end marker': _bytes('cut.jpg', _cut_jpeg_with_end_marker),
    'JPEG header claiming 16384x16384': _bytes('claims.jpg', lambda: _jpeg_claiming(16384, 16384)),
    'PNG palette before header': _bytes('palette_first.png', _png_palette_before_header),
    'hostile pickle': _bytes('hostile.pkl', lambda: pickle.dumps(Payload())),
    'malformed YAML': _bytes('bad.yml', b'name: x\ndatasets: {train: [1, 2}\n'),
    'image as YAML': _bytes('image.yml', _png_bytes),
    'malformed JSON': _bytes('bad.json', b'{"name": "x", "datasets": [1, 2'),
    'malformed CSV': _bytes('bad.csv', b'image,mos\n"unclosed,1\n'),
    'decompression bomb': _bytes('bomb.png', lambda: png_header_only(40000, 40000)),  # 1.6 G pixels declared
}


@dataclass
class Expect:
    text: str = ''
    kind: type = UserError
    score: bool = False


SCORE = Expect(score=True)


def error(text='', kind=UserError):
    return Expect(text=text, kind=kind)


@dataclass
class Outcome:
    value: object = None  # a score
    error: BaseException = None  # what a call raised
    status: int = None  # a command's exit status
    stderr: str = ''


def command(*argv):
    def run(folder, bad):
        err = io.StringIO()
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            with contextlib.redirect_stderr(err):
                status = main([a.replace('{input}', str(bad)) for a in argv])
        finally:
            os.chdir(cwd)
        return Outcome(status=status, stderr=err.getvalue())
    run.name = f'pyiqa-uniqa {argv[0]}'
    return run


_METRICS = {}


def metric(name, **options):
    def run(folder, bad):
        import pyiqa
        key = (name, tuple(sorted(options.items())))
        if key not in _METRICS:
            _METRICS[key] = pyiqa.create_metric(name, device='cpu', **options)
        try:
            with torch.no_grad():
                return Outcome(value=_METRICS[key](str(bad) if not torch.is_tensor(bad) else bad))
        except Exception as err:  # noqa: BLE001 - the row says which error is right
            return Outcome(error=err)
    run.name = f'create_metric({name!r})'
    return run


@dataclass
class Row:
    entry: Callable
    bad_input: str
    expect: Expect


TRAIN = command('train', '-opt', '{input}')
INSTALL_HOOK = command('install-hook', '--site-dir', '{input}')
UNIQA = metric('uniqa', backbone_weights='random', model_name='tiny-clip-quickgelu', num_crops=2)
SCORE_IMAGES = command('score', '-m', 'piqe', '--images', '{input}', '--out', 'scores.csv', '--no-progress')
SCORE_METRIC_OPT = command('score', '--metric-opt', '{input}', '--images', '.', '--out', 'scores.csv')
SCORE_MERGE = command('score', '--merge', '{input}', '--out', 'all.csv')
EVAL_DATA_OPT = command('eval', '-m', 'psnr', '--data-opt', '{input}', '--out', 'results')
BENCH = command('bench', '-m', 'psnr', '--images', '{input}')
RANK = command('rank', '{input}', '{input}', '-m', 'psnr')
COMPARE = command('compare', '{input}', '{input}', '-m', 'piqe')
BENCH_TRAIN = command('bench-train', '-opt', '{input}')
PIQE = metric('piqe')  # one of pyiqa's own metrics (no weights): its loader path gets the same checks
TINY_CLIP = ('--model-name', 'tiny-clip-quickgelu', '--backbone-weights', 'random')
LABEL = command('label', '--images', '{input}', '--out', 'attrs.csv', *TINY_CLIP, '--num-workers', '0', '--no-progress')
SELECT_PROMPTS = command('select-prompts', '--probe', '{input}', '--out', 'prompts.yml', *TINY_CLIP)
AGIQA_META_INFO = command('agiqa-meta-info', 'agiqa3k', '--source', '{input}', '--out', 'meta.csv')
CLIP_AGIQA = metric('clip-agiqa', backbone_weights='random', model_name='tiny-clip-quickgelu', weights_file=None)
ATTIQA = metric('attiqa', backbone='test_resnet', backbone_weights='random', head_hidden=16, weights_file=None)
METRICS = (UNIQA, CLIP_AGIQA, ATTIQA)
IMAGES = ('1x1 image', '20x3000 image', 'RGBA image', '16-bit image', 'CMYK image', 'grayscale image')
CAPTION = command('caption', '--data', '{input}', '--task', 'quality', '--model', 'template', '--out', 'caps.jsonl')
PURIFY = command('purify', '--comments', '{input}', '--reference', '{input}', '--out', 'clean.jsonl',
                 '--embedder', 'sentence')
EXPORT_BACKBONE = command('export-backbone', '{input}', '--out', 'backbone.pt')
DEMO_BACKBONE = command('demo', '--workdir', 'demo', '--backbone-weights', '{input}')

ROWS = [
    Row(TRAIN, 'missing path', error('no such options file')),
    Row(TRAIN, 'folder', error('is a folder, not an options file')),
    Row(TRAIN, 'empty file', error('must be a YAML mapping')),
    Row(TRAIN, 'malformed YAML', error('line 2: not valid YAML')),
    Row(TRAIN, 'malformed JSON', error('not valid YAML')),
    Row(TRAIN, 'image as YAML', error('is not a text file')),
    Row(TRAIN, 'hostile pickle', error('is not a text file')),
    Row(TRAIN, 'malformed CSV', error('must be a YAML mapping')),
    Row(INSTALL_HOOK, 'missing path', error('no such folder')),
    Row(INSTALL_HOOK, 'empty file', error('is not a folder')),
    Row(SCORE_IMAGES, 'missing path', error('no such folder, file or glob match')),
    Row(SCORE_IMAGES, 'folder', error('no images in folder')),
    Row(SCORE_IMAGES, 'empty file', error('no images in list')),
    Row(SCORE_IMAGES, 'image as YAML', error('not a text file of image paths')),
    Row(SCORE_IMAGES, 'malformed CSV', error('not a readable CSV')),
    Row(SCORE_METRIC_OPT, 'missing path', error('no such file')),
    Row(SCORE_METRIC_OPT, 'malformed YAML', error('not valid YAML')),
    Row(SCORE_METRIC_OPT, 'empty file', error('must be a YAML mapping')),
    Row(SCORE_MERGE, 'missing path', error('unknown table format')),
    Row(SCORE_MERGE, 'malformed CSV', error('not a readable csv table')),
    Row(SCORE_MERGE, 'hostile pickle', error('unknown table format')),
    Row(EVAL_DATA_OPT, 'missing path', error('no such file')),
    Row(EVAL_DATA_OPT, 'malformed YAML', error('not valid YAML')),
    Row(EVAL_DATA_OPT, 'image as YAML', error('is not a text file')),
    Row(BENCH, 'missing path', error('not a folder')),
    Row(BENCH, 'empty file', error('not a folder')),
    Row(RANK, 'missing path', error('no such file or folder')),
    Row(COMPARE, 'missing path', error('is not a folder')),
    Row(COMPARE, 'empty file', error('is not a folder')),
    # pyiqa's own loader path: create_metric(...)(path or tensor), every family
    *[Row(family, name, SCORE) for family in METRICS for name in IMAGES],
    *[Row(family, 'missing path', error('No such file', kind=FileNotFoundError)) for family in METRICS],
    *[Row(family, name, error('Cannot read image')) for family in METRICS
      for name in ('truncated jpeg', 'non-image', 'empty file')],
    Row(UNIQA, 'folder', error('', kind=(IsADirectoryError, UserError))),
    Row(UNIQA, 'decompression bomb', error('40000x40000 is 1,600,000,000 pixels')),
    Row(PIQE, 'truncated jpeg', error('Cannot read image')),
    Row(PIQE, 'non-image', error('Cannot read image')),
    Row(PIQE, 'empty file', error('Cannot read image')),
    Row(PIQE, 'decompression bomb', error('40000x40000 is 1,600,000,000 pixels')),
    Row(PIQE, 'RGBA image', SCORE),
    Row(PIQE, '16-bit image', SCORE),
    Row(BENCH_TRAIN, 'missing path', error('no such options file')),
    Row(BENCH_TRAIN, 'folder', error('is a folder, not an options file')),
    Row(BENCH_TRAIN, 'malformed YAML', error('line 2: not valid YAML')),
    Row(BENCH_TRAIN, 'image as YAML', error('is not a text file')),
    # tensors are checked before pyiqa's own asserts, for every metric (data/pyiqa_reading.py)
    *[Row(family, 'NaN tensor', error('NaN or infinite')) for family in (*METRICS, PIQE)],
    *[Row(family, 'randn tensor', error('normalized to [0, 1]')) for family in (*METRICS, PIQE)],
    *[Row(family, 'half tensor with white', SCORE) for family in (UNIQA, PIQE)],
    *[Row(family, name, error(text)) for family in (UNIQA, PIQE) for name, text in (
        ('int64 tensor', 'give float values in [0, 1]'), ('bool tensor', 'give float values in [0, 1]'),
        ('empty tensor', 'it is empty'), ('infinite tensor', 'NaN or infinite'), ('two-channel tensor', 'C = 1 (gray) or 3'))],
    # images pyiqa's own metrics cannot score: a clear per-image error
    Row(PIQE, 'float TIFF', error('piqe gives no finite score')),
    Row(PIQE, '5x40 image', error('piqe needs at least 16x16')),
    # damage that passes as data, and headers that lie
    *[Row(family, 'JPEG cut at 60% + end marker', error('it is truncated')) for family in (UNIQA, PIQE)],
    *[Row(family, 'JPEG header claiming 16384x16384', error('it is truncated')) for family in (UNIQA, PIQE)],
    *[Row(family, 'PNG palette before header', error('without a valid palette')) for family in (UNIQA, PIQE)],
    # ATTIQA and CLIP-AGIQA: their commands check every input before CLIP loads
    Row(LABEL, 'missing path', error('no such folder or CSV file')),
    Row(LABEL, 'folder', error('the folder holds no images')),
    Row(LABEL, 'empty file', error('is not a readable CSV')),
    Row(LABEL, 'malformed CSV', error('is not a readable CSV')),
    Row(LABEL, 'non-image', error('lists no images')),
    Row(LABEL, 'hostile pickle', error('is not a readable CSV')),
    Row(LABEL, 'RGBA image', error('is not a readable CSV')),  # an image where a folder or list goes
    Row(SELECT_PROMPTS, 'missing path', error('--probe')),
    Row(SELECT_PROMPTS, 'malformed CSV', error('is not a readable CSV')),
    Row(SELECT_PROMPTS, 'folder', error('the folder holds no images')),
    Row(AGIQA_META_INFO, 'missing path', error('no such file')),
    Row(AGIQA_META_INFO, 'empty file', error('is not a readable CSV')),
    Row(AGIQA_META_INFO, 'malformed CSV', error('is not a readable CSV')),
    Row(AGIQA_META_INFO, 'hostile pickle', error('is not a readable CSV')),
    # UniQA pre-training and demo commands: the data CSV, comment files, checkpoints
    Row(CAPTION, 'missing path', error('does not exist')),
    Row(CAPTION, 'folder', error('it is a folder')),
    Row(CAPTION, 'empty file', error('is not a readable CSV table')),
    Row(CAPTION, 'malformed CSV', error('is not a readable CSV table')),
    Row(CAPTION, 'image as YAML', error('is not a readable CSV table')),
    Row(CAPTION, 'non-image', error('has a header but no rows')),
    Row(PURIFY, 'missing path', error('does not exist')),
    Row(PURIFY, 'folder', error('is a folder, not a caption file')),
    Row(PURIFY, 'empty file', error('no comment records')),
    Row(PURIFY, 'malformed JSON', error('no comment records')),  # a torn last line (a killed writer) is skipped
    Row(PURIFY, 'image as YAML', error('not a JSON object')),
    Row(PURIFY, 'malformed YAML', error('not a JSON object')),
    *[Row(entry, name, error(text)) for entry in (EXPORT_BACKBONE, DEMO_BACKBONE) for name, text in (
        ('missing path', 'no such file'), ('folder', 'is a folder'), ('empty file', 'is empty'),
        ('image as YAML', 'is not a PyTorch checkpoint'), ('malformed JSON', 'not a PyTorch checkpoint'),
        ('hostile pickle', 'is not a PyTorch checkpoint'))],
]


def _row_id(row):
    return f'{row.entry.name} x {row.bad_input}'


@pytest.mark.parametrize('row', [pytest.param(row, id=_row_id(row)) for row in ROWS])
def test_bad_input(row, tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    bad = BAD_INPUTS[row.bad_input](tmp_path)
    outcome = row.entry(tmp_path, bad)
    if row.expect.score:
        assert outcome.error is None, outcome.error
        assert torch.isfinite(torch.as_tensor(outcome.value)).all()
        return
    named = bad.name if not torch.is_tensor(bad) else ''
    if outcome.status is not None:  # a command
        assert outcome.status == 2, outcome.stderr
        lines = outcome.stderr.splitlines()
        assert lines and lines[0].startswith(f'{row.entry.name}: error: '), outcome.stderr
        assert 'Traceback' not in outcome.stderr
        message = outcome.stderr
    else:
        assert isinstance(outcome.error, row.expect.kind), repr(outcome.error)
        message = str(outcome.error)
    assert named in message and row.expect.text in message, message
