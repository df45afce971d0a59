"""Writing files safely: never half-written, never outside the output folder.

- ``atomic_write(path)`` (and ``write_file(path, data)`` for data already in memory): the one way
  to write a file that must never be seen half-written (a checkpoint, a table, a cache). The data goes to a temporary file beside ``path``, is flushed and
  fsynced, and replaces ``path`` in one ``os.replace``; on an error the temporary file is removed
  and ``path`` is untouched. Append-only logs (one fsynced line per record) are not rewritten
  this way: appending is already crash-safe for them.
- ``inside_folder(root, name)``: the path of a file whose name comes from an input (a CSV row, a
  JSON record, an image name), refusing names that would land outside ``root``.
"""
import contextlib
import os
import secrets
from pathlib import Path

from pyiqa_uniqa.errors import UserError


class UnsafePathError(UserError, ValueError):
    """A name taken from an input would write outside the output folder."""


@contextlib.contextmanager
def atomic_write(path, mode='w', **open_kwargs):
    """``with atomic_write(path, 'wb') as f: torch.save(obj, f)``: ``path`` appears complete or not at all.

    mode: ``'w'`` (text) or ``'wb'``; ``open_kwargs`` go to ``open`` (e.g. ``encoding``, ``newline``).
    The file gets the permissions a plain ``open(path, 'w')`` would give it.
    """
    if mode not in ('w', 'wt', 'wb'):
        raise ValueError(f"atomic_write writes a whole file: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    temp = path.with_name(f'.{path.name}.{secrets.token_hex(4)}.tmp')
    # os.open with 0o666 lets the umask decide the permissions, as open() does (mkstemp would give 0600)
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(descriptor, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _sync_folder(path.parent)


def write_file(path, data):
    """``Path.write_bytes`` / ``write_text`` (UTF-8), atomically: ``path`` appears complete or not at all."""
    with atomic_write(path, 'wb') as f:
        f.write(data.encode('utf-8') if isinstance(data, str) else data)


def _sync_folder(folder):
    """Make the rename itself durable (POSIX; elsewhere the rename is all there is)."""
    if os.name != 'posix':
        return
    with contextlib.suppress(OSError):  # some file systems refuse to sync a folder; the file is in place
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def inside_folder(root, name, source='', what='output folder'):
    """``root / name``, refusing a ``name`` that is absolute, climbs out with ``..``, or reaches outside
    ``root`` through a symlink. ``source`` says where the name came from (e.g. ``'labels.csv, row 4'``);
    ``what`` is what ``root`` is, for the message (e.g. ``'image folder'`` for names an input list reads)."""
    text = os.fspath(name)
    where = f'{source}: ' if source else ''
    relative = Path(text)
    problem = None
    if '\x00' in text:  # no file system allows it; os calls would raise ValueError
        raise UnsafePathError(f'{where}the name {text!r} contains a NUL byte, which no file name can; '
                              'fix the list that gave it.')
    if not text or relative == Path('.'):
        problem = 'it names no file'
    elif relative.is_absolute() or relative.drive or text.startswith('~'):
        problem = 'it is an absolute path'
    elif '..' in relative.parts:
        problem = "it contains '..'"
    else:
        target = Path(root) / relative
        try:
            resolved = target.resolve()
        except (OSError, RuntimeError) as err:  # a symlink loop (RuntimeError before Python 3.13), a name too long
            raise UnsafePathError(f'{where}the name {text!r} cannot be followed inside the {what} {root} '
                                  f'({getattr(err, "strerror", None) or err}); fix the name or the links.') from None
        if not resolved.is_relative_to(Path(root).resolve()):
            problem = 'a symlink on the way points outside it'
    if problem:
        raise UnsafePathError(f'{where}the name {text!r} points outside the {what} {root} ({problem}); '
                              'names must be relative paths inside it.')
    return Path(root) / relative
