"""Image lists for the labeller: a folder or a CSV, deterministic order, shards, robust reading."""
import os
from pathlib import Path

IMAGE_EXTENSIONS = {'.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.gif'}


class UnreadableImageError(ValueError):
    pass


def list_images(source, image_root=None):
    """Return (root, relative paths) for a folder (recursive, sorted) or a CSV (first column).

    CSV paths are relative to ``image_root`` (default: the CSV's folder). Relative paths are what
    the output meta-info holds, so the dataset stays movable.
    """
    source = Path(source).expanduser()
    if source.is_dir():
        root = Path(image_root).expanduser() if image_root else source
        paths = sorted(str(p.relative_to(source)).replace(os.sep, '/') for p in source.rglob('*')
                       if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if image_root:
            paths = [str((source / p).resolve().relative_to(root.resolve())) for p in paths]
    elif source.is_file():
        import pandas as pd
        try:
            table = pd.read_csv(source)
        except Exception as err:
            raise ValueError(f'{source} is not a readable CSV: {err}') from err
        if table.shape[1] == 0 or table.empty:
            raise ValueError(f'{source} lists no images.')
        root = Path(image_root).expanduser() if image_root else source.parent
        paths = [str(p) for p in table.iloc[:, 0].tolist()]
    else:
        raise FileNotFoundError(f'--images {source}: no such folder or CSV file.')
    if not paths:
        raise ValueError(f'no images found in {source} (extensions: {", ".join(sorted(IMAGE_EXTENSIONS))}).')
    duplicates = len(paths) - len(set(paths))
    if duplicates:
        raise ValueError(f'{source} lists {duplicates} image path(s) more than once.')
    return root, paths


def read_rgb(path, draft_size=None):
    """Read an image as a float tensor [3, H, W] in [0, 1].

    Grayscale, palette, RGBA (alpha dropped), CMYK and 16-bit files are converted; truncated or
    undecodable files raise UnreadableImageError. ``draft_size`` lets JPEG decode at reduced scale
    (at least that size), which matters when labelling large photo collections.
    """
    import numpy as np
    import torch
    from PIL import Image
    try:
        with Image.open(path) as img:
            if draft_size and img.format == 'JPEG':
                img.draft('RGB', (draft_size, draft_size))
            img.load()
            if img.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
                gray = np.asarray(img, dtype=np.float32)
                array = np.repeat((gray / (65535.0 if gray.max() > 255 else 255.0))[..., None], 3, axis=2)
            else:
                array = np.asarray(img.convert('RGB'), dtype=np.float32) / 255.0
    except Exception as err:
        raise UnreadableImageError(f'{err.__class__.__name__}: {err}') from err
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise UnreadableImageError(f'empty image {array.shape}')
    return torch.from_numpy(np.ascontiguousarray(array.clip(0, 1))).permute(2, 0, 1)
