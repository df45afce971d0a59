"""A run that fails before its first iteration leaves the folders as they were.

pyiqa's pipeline creates ``experiments/<name>/`` and ``tb_logger/<name>/`` first, and moves folders
of an earlier run with the same name aside (``experiments/<name>_archived_<time>``,
``tb_logger_archived/<name>_archived_<time>``). If it then fails before training (a dataset whose
files are wrong, a model that cannot be built), each retry would leave one more folder and push
the earlier run further aside. ``undone_unless_started`` removes what the start created and moves
the earlier run back; once the first iteration has run, everything stays (its log is worth keeping).
"""
import contextlib
import shutil
from pathlib import Path


def _archived(folder, name):
    return {p for p in folder.glob(f'{name}_archived_*')} if folder.is_dir() else set()


@contextlib.contextmanager
def undone_unless_started(root, opt):
    """Yields ``started()``, to be called at the first iteration; on an earlier failure, undo the start."""
    root, name = Path(root), opt['name']
    parents = [root / 'experiments', root / 'tb_logger', root / 'tb_logger_archived']
    runs = [(root / 'experiments' / name, root / 'experiments'), (root / 'tb_logger' / name, root / 'tb_logger_archived')]
    existed = {path: path.exists() for path in parents + [run for run, _ in runs]}
    archived_before = {run: _archived(archive, name) for run, archive in runs}
    state = {'started': False}

    def started():
        state['started'] = True

    try:
        yield started
    except BaseException:
        if not state['started'] and opt.get('rank', 0) == 0:
            for run, archive in runs:
                moved_aside = _archived(archive, name) - archived_before[run]
                if run.exists() and (moved_aside or not existed[run]):
                    shutil.rmtree(run)
                for earlier in sorted(moved_aside)[-1:]:  # the one this start moved
                    earlier.rename(run)
            for parent in parents:
                if not existed[parent] and parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()
        raise
