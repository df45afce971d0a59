"""The mistakes a user can make in ATTIQA's inputs (its commands' files and folders, the arch's options).

They are members of the package's error family (``pyiqa_uniqa.errors``): ``pyiqa-uniqa`` prints the
message and exits with status 2, and a library caller catches the builtin (``ValueError``,
``FileNotFoundError``) or the family's class.
"""
from pyiqa_uniqa.errors import InvalidInputError, MissingFileError


class InputError(InvalidInputError):
    """An input (image folder or list, probe, prompts file, option value) that cannot be used as given."""


class InputNotFoundError(MissingFileError):
    """A folder or file named by a flag does not exist."""
