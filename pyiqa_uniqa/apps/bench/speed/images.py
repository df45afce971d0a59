"""The images ``bench`` times every metric on: a folder of files, or the scikit-image photos."""
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {'.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp'}


def _to_tensor(array):
    import torch

    return torch.from_numpy(np.array(array)).permute(2, 0, 1).float().div(255.0).unsqueeze(0)  # a writable copy


def load_bench_images(folder=None, limit=None):
    """Return ``([(name, tensor 1x3xHxW in [0, 1])], [skipped 'name: reason'])``.

    Unreadable files are skipped and named, so one bad file does not stop a benchmark; 16-bit,
    grayscale and RGBA files are converted to 8-bit RGB as pyiqa's own loader does.
    """
    if folder is None:
        from pyiqa_uniqa.data.photos import load_photos
        photos = load_photos()
        return [(name, _to_tensor(array)) for name, array in photos[:limit]], []
    from pyiqa_uniqa.data.images import UnreadableImageError, read_image

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f'--images {folder}: not a folder')
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    images, skipped = [], []
    for path in files[:limit]:
        try:
            array = np.asarray(read_image(path))
        except UnreadableImageError as err:  # truncated/corrupt/not an image: skip and say so
            skipped.append(f'{path.name}: {err}')
            continue
        if min(array.shape[:2]) < 8:
            skipped.append(f'{path.name}: {array.shape[1]}x{array.shape[0]} is too small to score')
            continue
        images.append((path.name, _to_tensor(array)))
    if not images:
        raise FileNotFoundError(f'--images {folder}: no readable image files '
                                f'({", ".join(sorted(IMAGE_SUFFIXES))})' + (f'; skipped: {skipped}' if skipped else ''))
    return images, skipped
