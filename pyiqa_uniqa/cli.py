"""``pyiqa-uniqa <command> ...``: one entry point for every job the package offers.

Each command lives in its own module with ``add_arguments(parser)`` and ``run(args)``; the module
is imported only when its command runs, so ``pyiqa-uniqa --help`` stays instant. Command modules
keep heavy imports (torch, open_clip, transformers) inside ``run``.
"""
import argparse
import importlib
import sys

# name -> (module, one-line help). Each family owns its lines.
COMMANDS = {
    'train': ('pyiqa_uniqa.training.command', "train with pyiqa's pipeline on an options YAML"),
    'install-hook': ('pyiqa_uniqa.install_hook', 'write the start-up hook (needed after pip install -e)'),
    'demo': ('pyiqa_uniqa.uniqa.demo', 'train a UniQA adapter on bundled photos offline; SRCC/PLCC before vs after'),
    'build-dq': ('pyiqa_uniqa.depictqa.build_dq', 'build DepictQA brief samples (DQ-495K JSON) from an image folder'),
    'caption': ('pyiqa_uniqa.uniqa.captioning', 'UniQA: MOS-level-guided quality/aesthetic captions with a vision-language model (resumable, sharded)'),
    'purify': ('pyiqa_uniqa.uniqa.purification', 'UniQA: keep the top-k most relevant and informative human comments per image'),
    'export-backbone': ('pyiqa_uniqa.uniqa.export', 'UniQA: write a pre-trained CLIP checkpoint in the official OpenAI layout'),
    'select-prompts': ('pyiqa_uniqa.attiqa.select_prompts', 'ATTIQA: pick the best CLIP prompt pair per attribute on a probe set'),
    'label': ('pyiqa_uniqa.attiqa.label', 'ATTIQA: CLIP attribute pseudo-labels for a folder or CSV of images (resumable, sharded)'),
    'eval': ('pyiqa_uniqa.bench.eval_command', 'SRCC/PLCC/KRCC/RMSE tables of metrics on IQA datasets'),
    'bench': ('pyiqa_uniqa.bench.bench_command', 'latency, throughput and memory of metrics on the same images'),
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
