"""Caption records on disk: JSON Lines, one image-text pair per line.

The captioner, the comment purifier and the image-text dataset all read and write this format.
Writes are appended and fsync'ed per batch, so a killed job loses at most the batch in flight;
its last line may then be torn (no trailing newline, not valid JSON). Readers tolerate exactly
that one torn line and the writer cuts it off before appending; a bad line anywhere else is
damage, reported with its file and line number.
"""
import glob
import json
import os
from pathlib import Path

from pyiqa_uniqa.errors import InvalidInputError, MissingFileError


class CaptionFileError(InvalidInputError):
    """A caption, comment or data file the user gave (or a row or option in it) is missing or damaged."""


class MissingImagesError(CaptionFileError, MissingFileError):
    """Images named by a data or caption file are not where the file says."""


def expand_caption_paths(paths):
    """Files for a path, a glob, or a list of either (sorted within each glob; order kept)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = []
    for pattern in paths:
        pattern = str(Path(pattern).expanduser())
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise CaptionFileError(f'No caption file matches {pattern}.')
        folders = [m for m in matches if not Path(m).is_file()]
        if folders:
            raise CaptionFileError(f'{folders[0]} is a folder, not a caption file (JSON Lines).' if Path(folders[0]).is_dir()
                                   else f'Caption file {folders[0]} does not exist.')
        files.extend(matches)
    return files


def read_records(path, on_bad_line='raise'):
    """Records of one JSONL file, with a torn last line ignored.

    on_bad_line: 'raise' (default) or 'skip' for a damaged line elsewhere. Returns
    ``(records, problems)`` where problems lists ``'file:line: reason'`` for every line left out.
    """
    with open(path, 'rb') as f:
        data = f.read()
    lines = data.split(b'\n')
    torn_tail = not data.endswith(b'\n') and lines[-1] != b''
    records, problems = [], []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        is_last = number == len(lines)
        try:
            record = json.loads(raw)
            if not isinstance(record, dict):
                raise ValueError(f'a JSON {type(record).__name__}, not an object')
        except ValueError as err:
            if is_last and torn_tail:
                problems.append(f'{path}:{number}: torn last line (an interrupted write), ignored')
                continue
            problem = f'{path}:{number}: not a JSON object ({err})'
            if on_bad_line == 'raise':
                raise CaptionFileError(problem + '. Fix or delete that line.') from None
            problems.append(problem)
            continue
        records.append(record)
    return records, problems


def cut_torn_tail(path):
    """Drop a partial last line left by a killed writer; returns the number of bytes removed."""
    path = Path(path)
    if not path.is_file():
        return 0
    with open(path, 'rb+') as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        f.seek(size - 1)
        if f.read(1) == b'\n':
            return 0
        f.seek(0)
        keep = f.read().rfind(b'\n') + 1
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return size - keep


class RecordAppender:
    """Appends batches of records to a JSONL file, each batch flushed to disk before returning."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        cut_torn_tail(self.path)
        self._file = open(self.path, 'a', encoding='utf-8')

    def write(self, records):
        self._file.write(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in records))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
