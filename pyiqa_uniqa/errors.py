"""The errors a user can fix.

``UserError`` marks a mistake in what the user gave: a path, a file's content, a name, an option.
``pyiqa-uniqa`` prints it as ``pyiqa-uniqa <command>: error: <message>`` and exits with status 2,
without a traceback (``pyiqa-uniqa --debug <command>`` shows it); any other exception is a bug,
which the CLI reports in one line that names ``--debug`` (``apps/cli.py``).

Every member also inherits the builtin a caller would catch, so library users lose nothing:

==========================  =========================  ===========================================
class                       also a                     raised for
==========================  =========================  ===========================================
``InvalidOptionError``      ``ValueError``             a keyword argument, metric option, recipe
                                                       field or flag with a value out of range
``UnknownNameError``        ``ValueError``             a name that is not in a table (metric,
                                                       prompt set, crop mode, CLIP model); the
                                                       message lists the names or the close ones
``InvalidInputError``       ``ValueError``             the data given: an image tensor's shape or
                                                       values, a file's content, a caption record
``MissingFileError``        ``FileNotFoundError``      a path the user named that does not exist
==========================  =========================  ===========================================

``UnknownNameError`` is an ``InvalidOptionError`` (the name was an option's value). Modules keep
their own narrower classes (``WeightsNotFoundError``, ``OptionsFileError``, ...) as subclasses of
these. A message names the input, says what is wrong and what to do (the keyword or flag, the file,
where it goes). It never suggests an unsafe load.
"""


class UserError(Exception):
    """A mistake in what the user gave; the message says which input and what to do."""


class InvalidOptionError(UserError, ValueError):
    """An option, keyword argument or recipe field whose value cannot be used."""


class UnknownNameError(InvalidOptionError):
    """A name that is not among the known ones; the message lists them (or the close ones)."""


class InvalidInputError(UserError, ValueError):
    """Data the user gave (an image, a tensor, a file's content) that cannot be used."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named that does not exist."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a command that journals its results: ``saved`` results of this run are in
    ``journal``, so the same command resumes from there."""

    def __init__(self, saved, journal):
        super().__init__(f'{saved} rows saved to the journal {journal}')
        self.saved = saved
        self.journal = journal
