"""``pyiqa-uniqa <command> ...``: one entry point for every job the package offers.

Each command lives in its own module with ``add_arguments(parser)`` and ``run(args)``; the module
is imported only when its command runs, so ``pyiqa-uniqa --help`` stays instant. Command modules
keep heavy imports (torch, open_clip, transformers) inside ``run``.
"""
import argparse
import importlib
import sys

from pyiqa_uniqa.parts import declared

# name -> (module, one-line help): the package's own commands, then each part's (see parts.py)
COMMANDS = {
    'install-hook': ('pyiqa_uniqa.install_hook', 'write the start-up hook (needed after pip install -e)'),
    **declared('COMMANDS'),
}


def build_parser(argv):
    parser = argparse.ArgumentParser(
        prog='pyiqa-uniqa', description='Vision-language image quality models for pyiqa.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    for name, (module, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:  # only the chosen command's module is imported
            importlib.import_module(module).add_arguments(command_parser)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    return module.run(args) or 0


if __name__ == '__main__':
    sys.exit(main())
