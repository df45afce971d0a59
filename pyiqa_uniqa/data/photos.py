"""Real colour photographs that ship inside installed packages, for offline tests and demos.

Two groups, both read from files that the packages' wheels contain (no download):

- ``PHOTO_NAMES``: the scikit-image photos, always there (scikit-image is a dependency) and the
  default everywhere. Only colour photographs: the grayscale ones (camera, coins, moon, ...) would
  make colourfulness meaningless, the synthetic ones (colorwheel, logo) are not photos, and
  ``motorcycle_right`` is the stereo twin of ``motorcycle_left`` (keeping both would leak one photo
  across splits).
- ``OTHER_PACKAGE_PHOTOS``: colour photographs in other installed packages' wheels: pyiqa's (the five
  Kodak reference photos of its ``ResultsCalibra`` folder, which TID2013 uses as I03, I04, I06, I08
  and I19, and the four photos of its speed-test folder: one SPAQ smartphone photo and three video
  frames, real but not pristine), matplotlib's sample portrait and scikit-learn's two sample
  photos. They are opt-in (``ALL_PHOTO_NAMES``, ``available_photos()``) because a package may stop
  shipping a file in a later release; the distorted copies next to pyiqa's references, matplotlib's
  clip-art gift box and its logos are left out (not distinct photographs).
"""
from importlib import metadata

import numpy as np

from pyiqa_uniqa.errors import InvalidOptionError, UnknownNameError

# name -> loader attribute in skimage.data; the order is fixed so the list is deterministic
PHOTO_SOURCES = {
    'astronaut': 'astronaut',
    'chelsea': 'chelsea',
    'coffee': 'coffee',
    'rocket': 'rocket',
    'motorcycle': 'stereo_motorcycle',
    'hubble_deep_field': 'hubble_deep_field',
    'immunohistochemistry': 'immunohistochemistry',
    'retina': 'retina',
}
PHOTO_NAMES = tuple(PHOTO_SOURCES)

# name -> (distribution, file path inside its installed files)
OTHER_PACKAGE_PHOTOS = {
    'kodim03': ('pyiqa', 'ResultsCalibra/ref_dir/I03.bmp'),
    'kodim04': ('pyiqa', 'ResultsCalibra/ref_dir/I04.bmp'),
    'kodim06': ('pyiqa', 'ResultsCalibra/ref_dir/I06.bmp'),
    'kodim08': ('pyiqa', 'ResultsCalibra/ref_dir/I08.bmp'),
    'kodim19': ('pyiqa', 'ResultsCalibra/ref_dir/I19.bmp'),
    'spaq_10241': ('pyiqa', 'tests/test_efficiency_img_dir/SPAQ_10241.jpg'),
    'frame_garden': ('pyiqa', 'tests/test_efficiency_img_dir/frame_4wrwr48cdk6rbcjl.jpg'),
    'frame_sunset': ('pyiqa', 'tests/test_efficiency_img_dir/frame_7gzdcz9sif0ekg31.jpg'),
    'frame_snow_road': ('pyiqa', 'tests/test_efficiency_img_dir/frame_9ogwhvvy7gfj6jzh.jpg'),
    'grace_hopper': ('matplotlib', 'matplotlib/mpl-data/sample_data/grace_hopper.jpg'),
    'china': ('scikit-learn', 'sklearn/datasets/images/china.jpg'),
    'flower': ('scikit-learn', 'sklearn/datasets/images/flower.jpg'),
}
ALL_PHOTO_NAMES = PHOTO_NAMES + tuple(OTHER_PACKAGE_PHOTOS)


def _package_file(name):
    """The installed file of an ``OTHER_PACKAGE_PHOTOS`` entry, or None when it is not installed."""
    distribution, path = OTHER_PACKAGE_PHOTOS[name]
    try:
        file = metadata.distribution(distribution).locate_file(path)
    except metadata.PackageNotFoundError:
        return None
    return file if file.is_file() else None


def available_photos():
    """Every photo of ``ALL_PHOTO_NAMES`` whose package (and file) is installed, in catalogue order."""
    return PHOTO_NAMES + tuple(name for name in OTHER_PACKAGE_PHOTOS if _package_file(name) is not None)


def _as_rgb_uint8(name, image):
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise RuntimeError(f'photo {name!r} is not an 8-bit colour image (shape {image.shape}, dtype {image.dtype}); '
                           'is the package that ships it intact?')
    return np.ascontiguousarray(image[:, :, :3])  # drop alpha if a future release adds one


def _load(name):
    if name in PHOTO_SOURCES:
        import skimage.data

        image = getattr(skimage.data, PHOTO_SOURCES[name])()
        return image[0] if name == 'motorcycle' else image  # (left, right, disparity): the left view
    from PIL import Image

    file = _package_file(name)
    if file is None:
        distribution, path = OTHER_PACKAGE_PHOTOS[name]
        raise FileNotFoundError(f'photo {name!r} comes from {distribution} ({path}), which is not installed here; '
                                f'install {distribution} or leave {name!r} out (available_photos() lists the others)')
    with Image.open(file) as image:
        return np.asarray(image.convert('RGB'))


def unknown_photo_names(names):
    """The names in ``names`` that are no photo here (``ALL_PHOTO_NAMES``), in their order."""
    return [n for n in names if n not in ALL_PHOTO_NAMES]


def load_photos(names=None):
    """Return ``[(name, uint8 array HxWx3 RGB), ...]`` in ``PHOTO_NAMES`` order (or the order of ``names``)."""
    names = PHOTO_NAMES if names is None else tuple(names)
    unknown = unknown_photo_names(names)
    if unknown:
        raise UnknownNameError(f'unknown photo(s) {unknown}; available: {", ".join(ALL_PHOTO_NAMES)}')
    if len(set(names)) != len(names):
        raise InvalidOptionError(f'photo names repeat: {list(names)}')
    return [(name, _as_rgb_uint8(name, _load(name))) for name in names]
