"""The mistakes a user can make in the inputs of ATTIQA's commands (``select-prompts``, ``label``).

Both are ``UserError``s: ``pyiqa-uniqa`` prints the message and exits with status 2. They also are
the builtin a library caller would catch.
"""
from pyiqa_uniqa.errors import UserError


class InputError(UserError, ValueError):
    """An image folder, image list, probe or prompts file that cannot be used as given."""


class InputNotFoundError(UserError, FileNotFoundError):
    """A folder or file named by a flag does not exist."""
