"""The journal: every result ``score`` makes, appended as it is made, so a run can stop and resume.

A journal is a folder of JSON-lines files, one per writer (``main``, ``shard-3-of-16``,
``rank-1-of-8``), so processes never write the same file. Each line is one result of one column
for one row::

    {"column": "uniqa#1f0c...", "path": "photos/a.jpg", "ref": "", "score": 0.61, "extras": {...}}
    {"column": "uniqa#1f0c...", "path": "photos/b.jpg", "ref": "", "error": "UnreadableImageError: ..."}

A column's id is a hash of what its numbers depend on (metric name, options, task, pyiqa and
pyiqa-uniqa versions), so a changed option starts a new column and never mixes with the old
one. Every batch is written and flushed when scored, so a killed process loses nothing it finished
(the operating system holds the data); the file is also fsynced at most every ``SYNC_SECONDS``,
so a power cut loses at most that much. A kill can leave at most one cut-off last line, which
readers skip and the next writer cuts off before appending. Errors are kept (the
table lists them) but do not count as done: a rerun tries those rows again.
"""
import json
import os
import time
from pathlib import Path

JOURNAL_SUFFIX = '.jsonl'
SYNC_SECONDS = 2.0


def read_journal(folder):
    """``{column id: {row key: record}}`` over every file of the journal; a result beats an error,
    a later line beats an earlier one."""
    columns = {}
    for path in sorted(Path(folder).glob(f'*{JOURNAL_SUFFIX}')) if Path(folder).is_dir() else ():
        with open(path, encoding='utf-8') as f:
            for line in f:
                try:
                    keep(columns, json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a kill
    return columns


def keep(columns, record):
    """Put ``record`` into ``columns`` ({column id: {(path, ref): record}}): a later record of a row
    replaces an earlier one, except that an error never replaces a result."""
    key = (record['path'], record['ref'])
    column = columns.setdefault(record['column'], {})
    if 'error' not in record or 'error' in column.get(key, record):
        column[key] = record


def done_keys(records):
    """The row keys of a column that have a result (errors are tried again)."""
    return {key for key, record in records.items() if 'error' not in record}


class JournalWriter:
    """Appends result lines to ``<folder>/<writer>.jsonl`` (created on the first write)."""

    def __init__(self, folder, writer='main'):
        self.path = Path(folder) / f'{writer}{JOURNAL_SUFFIX}'
        self._file = None
        self._synced = 0.0
        self.saved = 0  # results (not errors) this writer has appended

    def _open(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, 'a+b')
        size = self._file.seek(0, os.SEEK_END)
        if size:
            self._file.seek(size - 1)
            if self._file.read(1) != b'\n':  # a kill cut the last line: drop it, rescored below
                self._file.seek(0)
                content = self._file.read()
                self._file.truncate(content.rfind(b'\n') + 1)
        self._file.seek(0, os.SEEK_END)

    def append(self, records):
        """Write ``records`` (dicts with column, path, ref and score or error); see the module doc."""
        if not records:
            return
        if self._file is None:
            self._open()
        self._file.write(b''.join(json.dumps(r, allow_nan=False).encode('utf-8') + b'\n' for r in records))
        self._file.flush()
        self.saved += sum(1 for r in records if 'error' not in r)
        if time.monotonic() - self._synced > SYNC_SECONDS:
            os.fsync(self._file.fileno())
            self._synced = time.monotonic()

    def close(self):
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
