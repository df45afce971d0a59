"""Real colour photographs that installed packages ship as data for their users, for offline tests and demos.

Every photo here comes from a documented sample-data API of a package that ``setup.py`` requires, so
each install has all of them (no download, no other package's test files):

- ``PHOTO_NAMES``: scikit-image's colour photos (``skimage.data``), the default everywhere. Only
  colour photographs: the grayscale ones (camera, coins, moon, ...) would make colourfulness
  meaningless, the synthetic ones (colorwheel, logo) are not photos, and ``motorcycle_right`` is the
  stereo twin of ``motorcycle_left`` (keeping both would leak one photo across splits).
- ``MORE_PHOTO_NAMES``: matplotlib's sample portrait (``matplotlib.cbook.get_sample_data``) and
  scikit-learn's two sample photos (``sklearn.datasets.load_sample_image``). With scikit-image's they
  make ``ALL_PHOTO_NAMES``, the photos of the main job (``pyiqa-uniqa demo``).
"""
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


def _matplotlib_sample(file):
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data(file, asfileobj=False)) as image:
        return np.asarray(image.convert('RGB'))


def _sklearn_sample(file):
    from sklearn.datasets import load_sample_image

    return load_sample_image(file)


# name -> (loader, the file its package ships)
MORE_PHOTO_SOURCES = {
    'grace_hopper': (_matplotlib_sample, 'grace_hopper.jpg'),
    'china': (_sklearn_sample, 'china.jpg'),
    'flower': (_sklearn_sample, 'flower.jpg'),
}
MORE_PHOTO_NAMES = tuple(MORE_PHOTO_SOURCES)
ALL_PHOTO_NAMES = PHOTO_NAMES + MORE_PHOTO_NAMES


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
    loader, file = MORE_PHOTO_SOURCES[name]
    return loader(file)


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
