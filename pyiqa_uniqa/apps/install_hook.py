"""``pyiqa-uniqa install-hook``: write the start-up files for editable installs.

``pip install .`` ships them; ``pip install -e .`` cannot (setuptools' editable mode skips
files outside packages), so without this step pyiqa sees our metrics only after
``import pyiqa_uniqa``.
"""
from pathlib import Path

from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.startup_files import write_startup_files


def add_arguments(parser):
    parser.add_argument('--site-dir', help='target directory (default: this interpreter\'s site-packages)')


def run(args):
    if args.site_dir is not None:
        site_dir = Path(args.site_dir)
        if not site_dir.exists():
            raise UserError(f'--site-dir {site_dir}: no such folder. Pass an existing site-packages folder, or '
                            "leave --site-dir out to use this interpreter's.")
        if not site_dir.is_dir():
            raise UserError(f'--site-dir {site_dir} is not a folder.')
    for path in write_startup_files(args.site_dir):
        print(f'wrote {path}')
