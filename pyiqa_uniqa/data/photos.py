"""Real colour photographs that ship inside scikit-image, for offline tests and demos.

Only images stored in the scikit-image wheel itself are used (no pooch download), and only
colour photographs: the grayscale ones (camera, coins, moon, ...) would make colourfulness
meaningless, the synthetic ones (colorwheel, logo) are not photos, and ``motorcycle_right`` is
the stereo twin of ``motorcycle_left`` (keeping both would leak one photo across splits).
"""

import numpy as np

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


def _as_rgb_uint8(name, image):
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise RuntimeError(f'scikit-image photo {name!r} is not an 8-bit colour image '
                           f'(shape {image.shape}, dtype {image.dtype}); is scikit-image intact?')
    return np.ascontiguousarray(image[:, :, :3])  # drop alpha if a future release adds one


def load_photos(names=None):
    """Return ``[(name, uint8 array HxWx3 RGB), ...]`` in ``PHOTO_NAMES`` order (or the order of ``names``)."""
    import skimage.data

    names = PHOTO_NAMES if names is None else tuple(names)
    unknown = [n for n in names if n not in PHOTO_SOURCES]
    if unknown:
        raise ValueError(f'unknown photo(s) {unknown}; available: {", ".join(PHOTO_NAMES)}')
    if len(set(names)) != len(names):
        raise ValueError(f'photo names repeat: {list(names)}')

    photos = []
    for name in names:
        image = getattr(skimage.data, PHOTO_SOURCES[name])()
        if name == 'motorcycle':
            image = image[0]  # (left, right, disparity): the left view
        photos.append((name, _as_rgb_uint8(name, image)))
    return photos
