"""Image lists for the labeller: a folder or a CSV, deterministic order, shards, robust reading."""
import os
from pathlib import Path

from pyiqa_uniqa.data.images import UnreadableImageError, image_to_tensor, read_image

IMAGE_EXTENSIONS = {'.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.gif'}


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
    """Float tensor [3, H, W] in [0, 1] (``pyiqa_uniqa.data.images.read_image``); ``draft_size`` lets
    JPEG decode at reduced scale, which matters for large photo collections. A missing file counts
    as unreadable here: the labeller reports and skips it like a damaged one."""
    try:
        return image_to_tensor(path, draft_size=draft_size)
    except FileNotFoundError as err:
        raise UnreadableImageError(f'missing file {path}') from err
