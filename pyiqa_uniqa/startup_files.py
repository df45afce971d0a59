"""The two site-packages start-up files that install ``hook.py`` at interpreter start.

The ``.pth`` import is guarded so that a half-removed install stays silent instead of printing a
site error at every start. With PEP 829 (Python >= 3.15) the ``.start`` file takes over and the
``.pth`` import line is skipped, so the hook is not installed twice (it is idempotent anyway).
"""
import os
import sysconfig

from pyiqa_uniqa.files import atomic_write

STARTUP_FILES = {
    'pyiqa_uniqa.pth':
        'import sys; exec("try:\\n import pyiqa_uniqa\\nexcept Exception:\\n pass")\n',
    'pyiqa_uniqa.start': 'pyiqa_uniqa.hook:install\n',
}


def write_startup_files(site_dir=None):
    """Write the files into ``site_dir`` (default: this interpreter's purelib); return the paths."""
    site_dir = site_dir or sysconfig.get_paths()['purelib']
    paths = []
    for name, text in STARTUP_FILES.items():
        path = os.path.join(site_dir, name)
        with atomic_write(path) as f:  # a half-written .pth would run at every interpreter start
            f.write(text)
        paths.append(path)
    return paths
