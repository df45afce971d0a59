"""Shared DepictQA fixtures: one tiny random VLM and a small build-dq data set, built once."""
import numpy as np
import pytest


@pytest.fixture(scope='session')
def tiny_net():
    from pyiqa_uniqa.depictqa.arch import DepictQA
    return DepictQA('tiny')


@pytest.fixture(scope='session')
def photo_folder(tmp_path_factory):
    """Two real photos (scikit-image) and one unreadable file, as a user's image folder."""
    from PIL import Image

    from pyiqa_uniqa.data.photos import load_photos
    folder = tmp_path_factory.mktemp('photos')
    for name, array in load_photos(['chelsea', 'coffee']):
        Image.fromarray(np.ascontiguousarray(array[::4, ::4])).save(folder / f'{name}.png')
    (folder / 'broken.jpg').write_bytes(b'\xff\xd8\xff\xe0 not really a jpeg')
    return folder


@pytest.fixture(scope='session')
def small_options():
    from pyiqa_uniqa.depictqa.build_dq import BuildOptions
    return BuildOptions(size=32, identify_per_image=12, pairs_per_image=8, levels_per_image=4, test_images=1, seed=3)


@pytest.fixture(scope='session')
def built_dq(tmp_path_factory, photo_folder, small_options):
    from pyiqa_uniqa.depictqa.build_dq import build
    return build(photo_folder, tmp_path_factory.mktemp('dq') / 'dq_brief.json', small_options, progress=False)
