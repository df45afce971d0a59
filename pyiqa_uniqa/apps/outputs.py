"""Where a command's results go, checked before any work and held by one run at a time.

- ``check_output_file(path)`` / ``check_output_folder(path)``: the path is of the right kind (a file
  name is not a folder, a folder is not a file) and its folder can be written, found out by creating
  and removing a probe file in the nearest existing folder (permissions, ACLs, read-only mounts and
  root alike), so a mistake is one line before the first image is read, not an error after the last.
- ``output_lock(path)``: a second run on the same output refuses at once, naming the process that
  holds it (refusing rather than waiting: a wait could last for hours, and the user can choose to
  wait). The lock is a POSIX record lock (``lockf``) on ``.<name>.lock`` beside the output, released by
  the kernel when the holding process dies (its forked readers do not hold it), so a killed run never
  leaves a stale lock; the file is removed when the run ends.
- ``report_folder(path)``: both, for the report folders of eval, bench, compare and rank.
- ``staged_files(folder)``: a report of several files appears whole or not at all: they are written
  into a temporary folder beside them and moved into place only when all of them are written.
"""
import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

from pyiqa_uniqa.errors import UserError


class OutputBusyError(UserError):
    """Another run is writing the same output."""


def _nearest_existing(path):
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    return path


def _check_writable(target, flag, shown):
    folder = _nearest_existing(target)
    if not folder.is_dir():
        raise UserError(f'{flag} {shown}: {folder} is a file, so nothing can be written below it; choose another path.')
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix='.write-probe-'):
            pass
    except OSError as err:
        raise UserError(f'{flag} {shown}: cannot write into {folder} ({err.strerror or err}); '
                        'choose a folder you can write to.') from None


def check_output_file(path, flag='--out'):
    """``path`` names a file this process can create or replace (see the module doc)."""
    target = Path(os.path.expanduser(str(path)))
    if target.is_dir():
        example = Path(path) / ('scores' + (target.suffix or '.csv'))
        raise UserError(f'{flag} {path}: is a folder; give a file name, e.g. {example}.')
    _check_writable(target.parent, flag, path)


def check_output_folder(path, flag='--out'):
    """``path`` is a folder, or can be made one, that this process can write into."""
    target = Path(os.path.expanduser(str(path)))
    if target.exists() and not target.is_dir():
        raise UserError(f'{flag} {path}: is a file, but this command writes a folder of results there; '
                        'give a folder name.')
    _check_writable(target, flag, path)


@contextlib.contextmanager
def output_lock(path, flag='--out'):
    """Hold the output ``path`` (a file or a folder) for this run; ``OutputBusyError`` when another holds it.

    A POSIX record lock (``lockf``) belongs to this process alone: reader processes forked from it do not
    hold it, so a run killed while its readers wind down frees its output at once. Such a lock never
    keeps a process from itself, hence ``_HELD``.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no advisory locks; runs are not kept apart
        yield
        return
    target = Path(os.path.abspath(os.path.expanduser(str(path))))
    existing = _nearest_existing(target.parent)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.with_name(f'.{target.name}.lock')

    def busy(descriptor):
        holder = os.pread(descriptor, 100, 0).decode(errors='replace').strip() or 'unknown'
        return OutputBusyError(f'{flag} {path}: another run (process {holder}) is writing it; wait for it '
                               f'to end or give another {flag}.')

    while True:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            if lock_path in _HELD:
                raise BlockingIOError
            fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if not isinstance(err, BlockingIOError) and err.errno not in (errno.EACCES, errno.EAGAIN):
                os.close(descriptor)
                raise
            error = busy(descriptor)
            os.close(descriptor)
            raise error from None
        try:  # the holder before us may have removed the file after we opened it: lock the file that is there
            same = os.stat(lock_path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(descriptor)
    _HELD.add(lock_path)
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode(), 0)
        yield
    finally:
        _HELD.discard(lock_path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)
        os.close(descriptor)
        _remove_if_empty(target.parent, existing)


_HELD = set()  # the lock files this process holds


@contextlib.contextmanager
def report_folder(path, flag='--out'):
    """The report folder of eval, bench, compare and rank: checked (``check_output_folder``), then held
    for this run (``output_lock``)."""
    check_output_folder(path, flag)
    with output_lock(path, flag):
        yield


def _remove_if_empty(folder, stop):
    """Remove ``folder`` and its parents up to ``stop`` while they are empty (the folders a failed run made)."""
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty: the run wrote something there
            return
        folder = folder.parent


@contextlib.contextmanager
def staged_files(folder):
    """``with staged_files(out) as stage: write files into stage``; they move into ``folder`` together
    at the end, and nothing of them is left when the block fails."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix='.partial-', dir=folder))
    try:
        yield stage
        for item in sorted(stage.iterdir()):
            os.replace(item, folder / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
