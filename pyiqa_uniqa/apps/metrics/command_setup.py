"""What ``eval``, ``bench`` and ``score`` share: their metric flags and what they do before any metric runs."""
import sys


def add_metric_arguments(parser):
    """``-m``, ``--metric-opt``, ``--threads`` and ``--offline``, the same in every metric command."""
    parser.add_argument('-m', '--metrics', nargs='+', default=[], metavar='METRIC',
                        help='pyiqa or plugin metric names, optionally with options: '
                             '"name:key=value,key=value" (values are YAML scalars)')
    parser.add_argument('--metric-opt', metavar='YAML',
                        help='per-metric options: {label: {metric: pyiqa name, option: value, ...}}')
    parser.add_argument('--threads', type=int, help="torch CPU threads (default: by the metric's kind and the free cores, see docs/speed.md)")
    parser.add_argument('--offline', action='store_true',
                        help='never try the Hugging Face Hub (HF_HUB_OFFLINE=1; automatic when it does not resolve)')


def parse_metric_request(args):
    """The metric specs of ``args`` (``-m`` and ``--metric-opt``) and ``--threads``, checked without
    importing torch: a command can check its other inputs before paying for that import."""
    from pyiqa_uniqa.apps.metrics.metric_specs import parse_metric_specs
    from pyiqa_uniqa.errors import UserError

    if getattr(args, 'threads', None) is not None and args.threads < 1:
        raise UserError(f'--threads must be >= 1, not {args.threads}.')
    return parse_metric_specs(args.metrics, args.metric_opt)


def prepare_metric_command(name, args, specs=None):
    """Offline mode, torch threads and the parsed metric specs (``specs``: already parsed by
    ``parse_metric_request``), each checked before any model is loaded: names, options against the
    constructors (``metric_checks``), ``--device`` and ``--threads``. A mistake is a ``UserError``.
    pyiqa's own weight downloads fail in one line (``pyiqa_downloads``).

    Offline mode is set first: pyiqa reads the Hub settings when it imports huggingface_hub.
    """
    from pyiqa_uniqa.network import offline_mode

    specs = parse_metric_request(args) if specs is None else specs
    note = offline_mode(args.offline)
    if note:
        print(f'{name}: {note}', file=sys.stderr)
    import torch

    import pyiqa_uniqa  # noqa: F401 - merges the plugin's metric names into pyiqa
    from pyiqa_uniqa.apps.metrics.metric_checks import check_device, check_metric_options
    from pyiqa_uniqa.apps.metrics.metric_specs import check_metric_names
    from pyiqa_uniqa.apps.metrics.pyiqa_downloads import guard_pyiqa_downloads

    if args.threads:
        torch.set_num_threads(args.threads)
    check_metric_names(specs)
    check_metric_options(specs)
    check_device(getattr(args, 'device', None))
    guard_pyiqa_downloads()
    return specs
