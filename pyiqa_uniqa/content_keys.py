"""Whether a file is still the one a stored result was made from: results are keyed by content, not by name.

A result that is kept and reused later (a score in ``score``'s journal, a pseudo-label, a caption, a
cached feature) is stored with the ``file_key`` of the file it was made from: its size, mtime_ns and
inode (the stamp) and a SHA-256 of its bytes. Before a result is reused, ``still_same(path, key)``:

- the stamp is unchanged: the file is the same (nothing is read; an edit changes mtime_ns);
- the stamp differs (a copy, a ``touch``, a restore from a backup, a new file under the old name):
  the file is hashed again and the result is reused only when the bytes are the same.

The key is taken before the file is decoded, so an edit made while a result is being computed leaves
a key that no longer matches, and the result is made again next time rather than kept wrongly.
"""
import hashlib
import os

CHUNK = 1 << 20


def _stamp(stat):
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


def _hash(f):
    digest = hashlib.sha256()
    for chunk in iter(lambda: f.read(CHUNK), b''):
        digest.update(chunk)
    return digest.hexdigest()


def file_key(path):
    """``{'stamp': [size, mtime_ns, inode], 'sha256': hex}`` of the file at ``path`` (an ``OSError``
    when it cannot be read). A file that changes while it is hashed gets no stamp, so its next use
    hashes it again."""
    with open(path, 'rb') as f:
        before = _stamp(os.fstat(f.fileno()))
        sha = _hash(f)
        after = _stamp(os.fstat(f.fileno()))
    return {'stamp': before if before == after else None, 'sha256': sha}


def still_same(path, key):
    """True when the file at ``path`` has the content ``key`` (a ``file_key``) was taken from."""
    if not isinstance(key, dict) or not key.get('sha256'):
        return False  # a result stored before results were keyed by content: make it again
    try:
        if key.get('stamp') == _stamp(os.stat(path)):
            return True
        with open(path, 'rb') as f:
            return _hash(f) == key['sha256']
    except OSError:
        return False
