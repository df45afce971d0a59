"""The error a user can fix.

``UserError`` marks a mistake in what the user gave: a path, a file's content, a name, an option.
``pyiqa-uniqa`` prints it as ``pyiqa-uniqa <command>: error: <message>`` and exits with status 2,
without a traceback (``pyiqa-uniqa --debug <command>`` shows it); any other exception is a bug,
which the CLI reports in one line that names ``--debug`` (``apps/cli.py``). Subclasses also inherit the builtin a caller would catch
(``WeightsNotFoundError(WeightsError, FileNotFoundError)``), so library users lose nothing.

A message names the input, says what is wrong and what to do (the keyword or flag, the file, where
it goes). It never suggests an unsafe load.
"""


class UserError(Exception):
    """A mistake in what the user gave; the message says which input and what to do."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a command that journals its results: ``saved`` results of this run are in
    ``journal``, so the same command resumes from there."""

    def __init__(self, saved, journal):
        super().__init__(f'{saved} rows saved to the journal {journal}')
        self.saved = saved
        self.journal = journal
