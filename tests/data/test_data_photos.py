import numpy as np
import pytest

from pyiqa_uniqa.data.photos import ALL_PHOTO_NAMES, PHOTO_NAMES, load_photos


def test_photos_are_distinct_colour_photographs():
    """Every photo, the main job's too: each comes from a package setup.py requires, so each install has it."""
    assert [name for name, _ in load_photos()] == list(PHOTO_NAMES)
    photos = load_photos(ALL_PHOTO_NAMES)
    assert len(photos) == 11
    fingerprints = set()
    for name, image in photos:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, name
        assert image.flags['C_CONTIGUOUS']
        assert min(image.shape[:2]) >= 256, f'{name} is too small for 224 crops after resizing'
        channels = image.astype(np.int16)
        assert np.abs(channels[..., 0] - channels[..., 1]).mean() > 3, f'{name} looks grayscale'
        assert image.std() > 10, f'{name} looks flat'
        fingerprints.add(image[::16, ::16].tobytes())
    assert len(fingerprints) == len(photos)


def test_loading_is_deterministic_and_subsettable():
    first = dict(load_photos(['rocket', 'astronaut']))
    again = dict(load_photos())
    assert list(first) == ['rocket', 'astronaut']
    for name, image in first.items():
        assert np.array_equal(image, again[name])


@pytest.mark.parametrize('names,match', [(['astronaut', 'camera'], 'unknown photo'),
                                         (['coffee', 'coffee'], 'repeat')])
def test_bad_names(names, match):
    with pytest.raises(ValueError, match=match):
        load_photos(names)
