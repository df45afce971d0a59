"""The error a user can fix.

``UserError`` marks a mistake in what the user gave: a path, a file's content, a name, an option.
``pyiqa-uniqa`` prints it as ``pyiqa-uniqa <command>: error: <message>`` and exits with status 2,
without a traceback (``pyiqa-uniqa --debug <command>`` shows it); every other exception is a bug
and keeps its traceback. Subclasses also inherit the builtin a caller would catch
(``WeightsNotFoundError(WeightsError, FileNotFoundError)``), so library users lose nothing.

A message names the input, says what is wrong and what to do (the keyword or flag, the file, where
it goes). It never suggests an unsafe load.
"""


class UserError(Exception):
    """A mistake in what the user gave; the message says which input and what to do."""
