"""The mistakes a user can make in ATTIQA's inputs (its commands' files and folders, the arch's options).

Both are ``UserError``s: ``pyiqa-uniqa`` prints the message and exits with status 2. They also are
the builtin a library caller would catch.
"""
from pyiqa_uniqa.errors import UserError


class InputError(UserError, ValueError):
    """An input (image folder or list, probe, prompts file, option value) that cannot be used as given."""


class InputNotFoundError(UserError, FileNotFoundError):
    """A folder or file named by a flag does not exist."""
