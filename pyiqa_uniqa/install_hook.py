"""``pyiqa-uniqa install-hook``: write the start-up files for editable installs.

``pip install .`` ships them; ``pip install -e .`` cannot (setuptools' editable mode skips
files outside packages), so without this step pyiqa sees our metrics only after
``import pyiqa_uniqa``.
"""
from pyiqa_uniqa.startup_files import write_startup_files


def add_arguments(parser):
    parser.add_argument('--site-dir', help='target directory (default: this interpreter\'s site-packages)')


def run(args):
    for path in write_startup_files(args.site_dir):
        print(f'wrote {path}')
