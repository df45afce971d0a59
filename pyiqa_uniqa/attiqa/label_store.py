"""Append-only, crash-safe CSV files for long labelling jobs.

Each batch is appended as whole lines, flushed and fsync'ed, so a kill loses at most the batch
in flight. On reopening, a torn last line (written partly when the process died) is cut off;
every complete line is a finished image, so the job resumes by skipping those. A malformed line
anywhere else means the file was edited or damaged, and that is an error rather than a guess.
"""
import csv
import io
import os
from pathlib import Path

from pyiqa_uniqa.attiqa.errors import InputError
from pyiqa_uniqa.files import write_file


class ResumableCSV:
    """rows: sequences of len(columns); column 0 is the key (the image path)."""

    def __init__(self, path, columns, validate_row=None):
        self.path = Path(path)
        self.columns = list(columns)
        self.validate_row = validate_row or (lambda row: None)

    def recover(self):
        """Cut a torn tail, check the rest, write the header if new; return the complete rows."""
        data = self.path.read_bytes() if self.path.exists() else b''
        complete = data[:data.rfind(b'\n') + 1]
        # a killed write leaves a prefix of one batch: whole lines plus at most one without '\n'
        if len(complete) != len(data):
            with open(self.path, 'r+b') as handle:
                handle.truncate(len(complete))
        if not complete:  # new file, or the header itself was torn
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._append_text(self._format([self.columns]))
            return []
        try:
            rows = list(csv.reader(io.StringIO(complete.decode('utf-8'))))
        except (UnicodeDecodeError, csv.Error) as err:
            raise InputError(f'{self.path} is damaged ({err}).') from err
        if not rows or rows[0] != self.columns:
            raise InputError(f'{self.path}: header {rows[:1]} is not {self.columns}; '
                             'was it written by another version or for other attributes?')
        bad = [i + 2 for i, row in enumerate(rows[1:]) if not self._is_valid(row)]
        if bad:
            raise InputError(f'{self.path}: malformed line(s) {bad[:5]}; the file was edited or damaged.')
        return rows[1:]

    def append(self, rows):
        if rows:
            self._append_text(self._format(rows))

    def rewrite(self, rows):
        """Replace the file by the header and ``rows`` (atomically): drops rows that no longer hold."""
        write_file(self.path, self._format([self.columns, *rows]))

    def _is_valid(self, row):
        if len(row) != len(self.columns):
            return False
        try:
            self.validate_row(row)
        except ValueError:
            return False
        return True

    @staticmethod
    def _format(rows):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator='\n').writerows(rows)
        return buffer.getvalue()

    def _append_text(self, text):
        with open(self.path, 'a', encoding='utf-8', newline='') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
