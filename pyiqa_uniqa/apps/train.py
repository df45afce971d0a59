"""``pyiqa-uniqa train -opt X.yml`` (and ``python train.py -opt X.yml`` from a checkout).

pyiqa's own ``train_pipeline`` with the working directory as root and what pyiqa gets wrong for our
models fixed: ``pyiqa_uniqa.training.pipeline`` (the library part this command runs).

Distributed runs go through pyiqa's launcher:
``torchrun --nproc_per_node=N -m pyiqa_uniqa train -opt X.yml --launcher pytorch``.
"""
import sys


def add_arguments(parser):
    parser.add_argument('-opt', required=True, help='path to the options YAML')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--auto_resume', action='store_true',
                        help='continue from the newest training state of this experiment')
    parser.add_argument('--debug', action='store_true',
                        help="pyiqa's debug mode: a few iterations under the name debug_<name>")
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--force_yml', nargs='+', default=None,
                        help='override existing options, e.g. train:total_iter=100')
    parser.add_argument('--strict-options', action='store_true',
                        help='fail, instead of warning, on options pyiqa would ignore')


def run(args):
    from pyiqa_uniqa.training.pipeline import train_in_process
    train_in_process(args)


def main(argv=None):
    """Entry for the repository-root ``train.py``: the same command and error style as ``pyiqa-uniqa train``."""
    from pyiqa_uniqa.apps.cli import main as cli_main
    return cli_main(['train', *(sys.argv[1:] if argv is None else argv)])
