"""``pyiqa-uniqa <command> ...``: one entry point for every job the package offers.

Each command lives in its own module with ``add_arguments(parser)`` and ``run(args)``; the module
is imported only when its command runs, so ``pyiqa-uniqa --help`` stays instant. Command modules
keep heavy imports (torch, open_clip, transformers) inside ``run``.

A ``UserError`` (``errors.py``) ends the command with ``pyiqa-uniqa <command>: error: <message>``
on stderr and exit status 2, the way argparse reports a bad flag; ``pyiqa-uniqa --debug <command>``
shows its traceback instead. Any other exception is a bug and keeps its traceback.
"""
import argparse
import importlib
import sys

from pyiqa_uniqa.apps import COMMANDS
from pyiqa_uniqa.errors import UserError

USER_ERROR_STATUS = 2  # argparse's status for a usage error


def build_parser(argv):
    parser = argparse.ArgumentParser(
        prog='pyiqa-uniqa', description='Vision-language image quality models for pyiqa.')
    # not dest='debug': a command's own --debug (train's, pyiqa's debug mode) would overwrite it
    parser.add_argument('--debug', dest='show_traceback', action='store_true',
                        help='show the traceback of an error instead of a one-line message')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    wanted = next((arg for arg in argv if not arg.startswith('-')), None)  # the command: first non-flag
    for name, (module, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:  # only the chosen command's module is imported
            importlib.import_module(module).add_arguments(command_parser)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return importlib.import_module(COMMANDS[args.command][0]).run(args) or 0
    except UserError as err:
        if args.show_traceback:
            raise
        print(f'pyiqa-uniqa {args.command}: error: {err}', file=sys.stderr)
        return USER_ERROR_STATUS


if __name__ == '__main__':
    sys.exit(main())
