"""Image lists for the labeller and the probe: a folder or a CSV, in a deterministic order, checked."""
import os
from pathlib import Path

from pyiqa_uniqa.attiqa.errors import InputError, InputNotFoundError
from pyiqa_uniqa.files import inside_folder

IMAGE_EXTENSIONS = {'.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.gif'}


def list_images(source, image_root=None, flag='--images'):
    """Return (root, relative paths) for a folder (recursive, sorted) or a CSV (first column).

    CSV paths are relative to ``image_root`` (default: the CSV's folder) and must stay inside it;
    relative paths are what the output meta-info holds, so the dataset stays movable. ``flag``
    names the input in messages. Everything is checked before any model loads.
    """
    source = Path(source).expanduser()
    if source.is_dir():
        root = Path(image_root).expanduser() if image_root else source
        paths = sorted(str(p.relative_to(source)).replace(os.sep, '/') for p in source.rglob('*')
                       if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not paths:
            raise InputError(f'{flag} {source}: the folder holds no images (looked for '
                             f'{", ".join(sorted(IMAGE_EXTENSIONS))}, in subfolders too).')
        if image_root:
            if not source.resolve().is_relative_to(root.resolve()):
                raise InputError(f'{flag} {source} is not inside --image-root {root}.')
            paths = [str((source / p).resolve().relative_to(root.resolve())) for p in paths]
    elif source.is_file():
        root = Path(image_root).expanduser() if image_root else source.parent
        paths = _csv_paths(source, root, flag)
    else:
        raise InputNotFoundError(f'{flag} {source}: no such folder or CSV file.')
    duplicates = len(paths) - len(set(paths))
    if duplicates:
        raise InputError(f'{flag} {source} lists {duplicates} image path(s) more than once.')
    return root, paths


def _csv_paths(source, root, flag):
    """The first column of a CSV listing: checked to name images inside ``root``, some of them present."""
    import pandas as pd  # here, not at the top: a folder listing (the common case) needs no pandas

    try:
        table = pd.read_csv(source)
    except Exception as err:  # noqa: BLE001 - pandas fails in many ways on a file that is no CSV
        raise InputError(f'{flag} {source} is not a readable CSV ({err.__class__.__name__}: {err}).') from err
    if table.shape[1] == 0 or table.empty:
        raise InputError(f'{flag} {source} lists no images: its first column should hold image paths '
                         f'relative to --image-root (default: the CSV\'s folder).')
    if not root.is_dir():
        raise InputNotFoundError(f'--image-root {root}: no such folder (the paths in {source} are relative to it).')
    paths = [str(p) for p in table.iloc[:, 0].tolist()]
    for row, path in enumerate(paths, start=2):  # row 1 is the header
        inside_folder(root, path, source=f'{flag} {source}, row {row}', what='image folder (--image-root)')
    if not any((root / path).is_file() for path in paths):
        raise InputError(f'{flag} {source}: none of its {len(paths)} images exists under {root} (e.g. '
                         f'{root / paths[0]}); pass the folder its paths are relative to as --image-root.')
    return paths
