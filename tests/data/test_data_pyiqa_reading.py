"""pyiqa's own loader path (create_metric(...)(path), the pyiqa CLI): damaged and huge files fail
naming the file, whatever PIL's global flag; our metrics read through the one reader."""
import subprocess
import sys

import numpy as np
import pyiqa
import pytest
import torch
from PIL import Image, ImageFile
from pyiqa.utils.img_util import imread2tensor

from pyiqa_uniqa.data.images import UnreadableImageError, image_to_tensor
from pyiqa_uniqa.testing.bad_images import png_header_only


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('pyiqa_reading')
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)).save(root / 'ok.png')
    Image.fromarray(rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)).save(root / 'other.png')
    data = (root / 'ok.png').read_bytes()
    (root / 'cut.png').write_bytes(data[: len(data) // 2])
    (root / 'not_an_image.png').write_text('hello')
    (root / 'bomb.png').write_bytes(png_header_only(40000, 40000))
    rgba = rng.integers(0, 255, (64, 80, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(root / 'rgba.png')
    Image.fromarray((rng.random((64, 80)) * 65535).astype(np.uint16)).save(root / 'deep.png')
    return root


@pytest.fixture(scope='module')
def ours():
    return pyiqa.create_metric('uniqa', backbone_weights='random', model_name='tiny-clip-quickgelu', device='cpu')


@pytest.fixture(scope='module')
def theirs():
    return pyiqa.create_metric('psnr', device='cpu')  # pyiqa's own, no weights to download


def score(metric, path, files):
    return metric(str(files / path)) if metric.metric_mode == 'NR' else metric(str(files / path), str(files / 'ok.png'))


@pytest.mark.parametrize('metric', ['ours', 'theirs'])
@pytest.mark.parametrize('name, message', [
    ('cut.png', r'Cannot read image .*cut\.png'),
    ('not_an_image.png', r'Cannot read image .*not_an_image\.png'),
    ('bomb.png', r'bomb\.png: 40000x40000 is 1,600,000,000 pixels'),
])
@pytest.mark.parametrize('pil_pads_truncated_files', [False, True])
def test_bad_files_are_named_whatever_pils_global_flag(request, files, metric, name, message,
                                                       pil_pads_truncated_files, monkeypatch):
    monkeypatch.setattr(ImageFile, 'LOAD_TRUNCATED_IMAGES', pil_pads_truncated_files)  # pyiqa's AVA module: True
    with pytest.raises(UnreadableImageError, match=message):
        score(request.getfixturevalue(metric), name, files)


def test_pyiqas_own_metrics_read_exactly_as_before(files, theirs):
    for name in ('ok.png', 'rgba.png', 'deep.png'):
        before = imread2tensor(str(files / name), rgb=True)[None]  # pyiqa's reader, unwrapped
        assert torch.equal(theirs._to_batched_tensor(str(files / name)), before)
        assert torch.equal(theirs._to_batched_tensor((files / name).read_bytes()), before)
    pil = Image.open(files / 'rgba.png')
    assert torch.equal(theirs._to_batched_tensor(pil), imread2tensor(pil, rgb=True)[None])
    assert theirs(str(files / 'other.png'), str(files / 'ok.png')).item() == pytest.approx(
        theirs(imread2tensor(str(files / 'other.png'))[None], imread2tensor(str(files / 'ok.png'))[None]).item())


def test_our_metrics_read_a_path_like_every_other_source(files, ours):
    for name in ('rgba.png', 'deep.png'):
        path = files / name
        assert torch.equal(ours._to_batched_tensor(str(path)), image_to_tensor(path)[None])
        assert ours(str(path)).item() == pytest.approx(ours(image_to_tensor(Image.open(path))[None]).item(), abs=1e-6)
    # pyiqa's convert('RGB') would drop the alpha: the picture on white differs from it
    assert not torch.equal(ours._to_batched_tensor(str(files / 'rgba.png')),
                           imread2tensor(str(files / 'rgba.png'), rgb=True)[None])


def test_the_pyiqa_command_line_names_a_damaged_file_after_ava_switched_the_flag(files):
    # a fresh interpreter: the start-up hook wraps pyiqa's reader as pyiqa imports it
    code = ('import pyiqa.data.ava_dataset, sys; from pyiqa.pyiqa_cmd import main; '
            f'sys.argv = ["pyiqa", "psnr", "-t", {str(files / "cut.png")!r}, "-r", {str(files / "ok.png")!r}]; main()')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert 'UnreadableImageError: Cannot read image' in result.stderr and 'cut.png' in result.stderr
