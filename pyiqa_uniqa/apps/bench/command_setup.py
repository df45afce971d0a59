"""What ``eval``, ``bench`` and ``score`` share: their metric flags and what they do before any metric runs."""
import sys


def add_metric_arguments(parser):
    """``-m``, ``--metric-opt``, ``--threads`` and ``--offline``, the same in every metric command."""
    parser.add_argument('-m', '--metrics', nargs='+', default=[], metavar='METRIC',
                        help='pyiqa or plugin metric names, optionally with options: '
                             '"name:key=value,key=value" (values are YAML scalars)')
    parser.add_argument('--metric-opt', metavar='YAML',
                        help='per-metric options: {label: {metric: pyiqa name, option: value, ...}}')
    parser.add_argument('--threads', type=int, help="torch CPU threads (default: by the metric's kind and the usable cores, see docs/speed.md)")
    parser.add_argument('--offline', action='store_true',
                        help='never try the Hugging Face Hub (HF_HUB_OFFLINE=1; automatic when it does not resolve)')


def prepare_metric_command(name, args):
    """Offline mode, torch threads and the parsed metric specs (a bad spec is a ``MetricSpecError``, a ``UserError``).

    Offline mode is set first: pyiqa reads the Hub settings when it imports huggingface_hub.
    """
    from pyiqa_uniqa.apps.bench.offline import configure_offline

    note = configure_offline(args.offline)
    if note:
        print(f'{name}: {note}', file=sys.stderr)
    import torch

    import pyiqa_uniqa  # noqa: F401 - merges the plugin's metric names into pyiqa
    from pyiqa_uniqa.apps.bench.metric_specs import check_metric_names, parse_metric_specs

    if args.threads:
        torch.set_num_threads(args.threads)
    specs = parse_metric_specs(args.metrics, args.metric_opt)
    check_metric_names(specs)
    return specs
