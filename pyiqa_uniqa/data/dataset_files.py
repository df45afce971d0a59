"""The files a pyiqa dataset's options name: which are missing, and how a user gets them.

pyiqa's dataset options name their files with four keys (``PATH_KEYS``). pyiqa can download the
datasets listed in its ``default_dataset_configs.yml`` (``pyiqa.load_dataset``, from Hugging Face);
a recipe's dataset is recognised as one of those by its meta-info file name. Used by the train
command's preflight and by ``eval``.
"""
from pathlib import Path

# option key -> what the file is, for messages
PATH_KEYS = {'dataroot_target': 'image folder', 'dataroot_ref': 'reference image folder',
             'meta_info_file': 'meta-info file', 'split_file': 'split file'}
# Dataset types that write their own images and meta-info on first use, so absent files are fine.
SELF_BUILDING_TYPES = {'PhotoDistortionNRDataset', 'PhotoDistortionFRDataset'}


def builds_itself(options):
    """True when the dataset (or the pyiqa dataset a wrapper builds, ``base_type``) writes its own files."""
    return bool({options.get('type'), options.get('base_type')} & SELF_BUILDING_TYPES)


def missing_paths(options):
    """``[(key, path), ...]`` for each file or folder the options name that does not exist (a key may
    hold one path or a list of them)."""
    if builds_itself(options):
        return []
    named = [(key, path) for key in PATH_KEYS if options.get(key)
             for path in (options[key] if isinstance(options[key], (list, tuple)) else [options[key]])]
    return [(key, path) for key, path in named if not Path(str(path)).expanduser().exists()]


def pyiqa_dataset(options):
    """``(name, data_root)`` when pyiqa can download the dataset these options describe, else None.

    data_root is where ``pyiqa.load_dataset(name, data_root=...)`` puts the files so that the
    options' own paths find them (``./datasets`` for pyiqa's layout).
    """
    from pyiqa import get_dataset_info

    meta_info = options.get('meta_info_file')
    if not isinstance(meta_info, str):
        return None
    matches = [(name, known) for name, known in get_dataset_info().items()
               if Path(known.get('meta_info_file', '')).name == Path(meta_info).name]
    # KonIQ-10k's 512x384 and 1024x768 versions share a meta-info file: prefer the one whose images match
    matches.sort(key=lambda match: not _same_tail(options.get('dataroot_target'), match[1].get('dataroot_target')))
    if not matches:
        return None
    name, known = matches[0]
    tail = Path(known['meta_info_file']).relative_to('datasets')  # meta_info/<file>
    if str(meta_info).endswith(str(tail)):  # keep the recipe's spelling, e.g. './datasets'
        return name, str(meta_info)[:-len(str(tail))].rstrip('/\\') or '.'
    return name, str(Path(meta_info).parent.parent)


def _same_tail(ours, theirs):
    if not ours or not theirs:
        return False
    theirs = Path(theirs).relative_to('datasets')
    return Path(ours).parts[-len(theirs.parts):] == theirs.parts


def how_to_get(options):
    """One sentence: the command that downloads the dataset, or where else it comes from."""
    known = pyiqa_dataset(options)
    if known is None:
        return ('pyiqa cannot download this dataset: get it from its official source (the recipe\'s comments '
                'say which) and put it there, or point the path at your copy.')
    name, root = known
    return (f'pyiqa downloads it: python -c "import pyiqa; pyiqa.load_dataset(\'{name}\', data_root=\'{root}\')" '
            f'(or pyiqa-uniqa eval -m <metric> -d {name} --data-root {root} --download).')
