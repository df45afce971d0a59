"""``pyiqa-uniqa train -opt X.yml`` (and ``python train.py -opt X.yml`` from a checkout).

Runs pyiqa's own ``train_pipeline`` with the working directory as root (``python -m pyiqa.train``
would write experiments into site-packages), after fixing what pyiqa gets wrong for us:
misnamed keys are honoured, ignored keys are reported, and resume works on CPU and restores the
network weights (``resume.py``). Distributed runs go through pyiqa's launcher:
``torchrun --nproc_per_node=N -m pyiqa_uniqa train -opt X.yml --launcher pytorch``.
"""
import os
import sys


def add_arguments(parser):
    parser.add_argument('-opt', required=True, help='path to the options YAML')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--auto_resume', action='store_true',
                        help='continue from the newest training state of this experiment')
    parser.add_argument('--debug', action='store_true')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--force_yml', nargs='+', default=None,
                        help='override existing options, e.g. train:total_iter=100')
    parser.add_argument('--strict-options', action='store_true',
                        help='fail, instead of warning, on options pyiqa would ignore')


def pyiqa_argv(args):
    """The command line pyiqa's own option parser expects."""
    argv = ['-opt', args.opt, '--launcher', args.launcher, '--local-rank', str(args.local_rank)]
    if args.auto_resume:
        argv.append('--auto_resume')
    if args.debug:
        argv.append('--debug')
    if args.force_yml:
        argv += ['--force_yml', *args.force_yml]
    return argv


def run(args):
    if not os.path.isfile(args.opt):
        raise SystemExit(f'options file not found: {args.opt}')
    import pyiqa.train
    from pyiqa.utils.options import parse_options

    from pyiqa_uniqa.training import resume
    from pyiqa_uniqa.training.option_check import fix_renamed_keys, report_unknown_keys

    root = os.getcwd()
    saved_argv = sys.argv
    sys.argv = ['pyiqa-uniqa train', *pyiqa_argv(args)]
    try:
        opt, parsed = parse_options(root, is_train=True)
    finally:
        sys.argv = saved_argv
    fix_renamed_keys(opt)
    report_unknown_keys(opt, strict=args.strict_options)
    pyiqa.train.load_resume_state = resume.load_resume_state
    pyiqa.train.train_pipeline(root, opt, parsed)


def main(argv=None):
    """Entry for the repository-root ``train.py``."""
    import argparse
    parser = argparse.ArgumentParser(prog='train.py', description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
