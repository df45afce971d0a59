"""``pyiqa-uniqa <command> ...``: one entry point for every job the package offers, and its one error boundary.

Each command lives in its own module with ``add_arguments(parser)`` and ``run(args)``; the module
is imported only when its command runs, so ``pyiqa-uniqa --help`` stays instant. Command modules
keep heavy imports (torch, open_clip, transformers) inside ``run``.

Every command runs inside ``main``'s one handler:

- a ``UserError`` (``errors.py``): ``pyiqa-uniqa <command>: error: <message>`` on stderr, exit status 2,
  the way argparse reports a bad flag;
- Ctrl-C: ``interrupted: N rows saved to the journal; run the same command to resume`` for commands
  that journal their results (``errors.Interrupted`` carries the count), else ``interrupted``; exit 130,
  the shell's status for SIGINT;
- an ``OSError`` (a full disk, a file removed under the command): its one line, exit 1;
- anything else is a bug: one line naming the exception and ``--debug``, exit 1.

``pyiqa-uniqa --debug <command>`` lets the exception through with its traceback.
"""
import argparse
import importlib
import sys

from pyiqa_uniqa.apps import COMMANDS, free_cores, quick_torchvision
from pyiqa_uniqa.errors import Interrupted, UserError

USER_ERROR_STATUS = 2  # argparse's status for a usage error
FAILURE_STATUS = 1
INTERRUPTED_STATUS = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


def _version():
    from importlib.metadata import PackageNotFoundError, version

    import pyiqa_uniqa
    try:
        host = version('pyiqa')
    except PackageNotFoundError:
        host = 'not installed'
    return f'pyiqa-uniqa {pyiqa_uniqa.__version__} (pyiqa {host}, Python {sys.version.split()[0]})'


def build_parser(argv):
    parser = argparse.ArgumentParser(
        prog='pyiqa-uniqa', description='Vision-language image quality models for pyiqa.')
    parser.add_argument('--version', action='version', version=_version())
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


def _interrupted_line(err):
    if isinstance(err, Interrupted):
        return (f'interrupted: {err.saved} rows saved to the journal ({err.journal}); '
                'run the same command to resume')
    return 'interrupted'


def main(argv=None):
    free_cores.mark()  # the load of other processes is counted from here, over the start-up's imports
    quick_torchvision.install()  # torchvision without torch._dynamo: about a second of every start-up
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    prefix = f'pyiqa-uniqa {args.command}'
    try:
        return importlib.import_module(COMMANDS[args.command][0]).run(args) or 0
    except UserError as err:
        if args.show_traceback:
            raise
        print(f'{prefix}: error: {err}', file=sys.stderr)
        return USER_ERROR_STATUS
    except KeyboardInterrupt as err:
        if args.show_traceback:
            raise
        print(f'\n{prefix}: {_interrupted_line(err)}', file=sys.stderr)
        return INTERRUPTED_STATUS
    except OSError as err:  # the machine's, not the code's: a full disk, a file removed meanwhile
        if args.show_traceback:
            raise
        print(f'{prefix}: error: {err}', file=sys.stderr)
        return FAILURE_STATUS
    except Exception as err:  # noqa: BLE001 - the boundary: anything else is a bug, said in one line
        if args.show_traceback:
            raise
        first = (str(err).strip().splitlines() or [''])[0]
        print(f'{prefix}: internal error (this is a bug in pyiqa-uniqa or a library it uses): '
              f'{type(err).__name__}: {first}. Run `pyiqa-uniqa --debug {args.command} ...` for the traceback '
              'and report it.', file=sys.stderr)
        return FAILURE_STATUS


if __name__ == '__main__':
    sys.exit(main())
