"""``pyiqa-uniqa app``: the web page and the HTTP API over any metrics.

    pyiqa-uniqa app -m uniqa attiqa depictqa piqe                     # http://127.0.0.1:7860
    pyiqa-uniqa app -m uniqa piqe --folders photos/ --port 8080       # name files in photos/ on the page
    pyiqa-uniqa app -m piqe --no-batching --queue-size 8
    pyiqa-uniqa app -m uniqa --host 0.0.0.0                            # reachable from the network: only when asked

Every flag is checked, then every metric is loaded (a missing weight file stops here, before the
server starts), then the server listens. See docs/app.md.
"""
import sys
from pathlib import Path

from pyiqa_uniqa.apps.app.limits import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_UPLOAD_MB,
    MEBIBYTE,
)
from pyiqa_uniqa.apps.app.service import (
    DEFAULT_MAX_BATCH,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_TIMEOUT_S,
    DEFAULT_WAIT_MS,
)
from pyiqa_uniqa.apps.metrics.command_setup import add_metric_arguments

# the API's requests run in the server's 40 worker threads; more admitted requests would wait there, unbounded
MAX_QUEUE_SIZE = 32


def add_arguments(parser):
    add_metric_arguments(parser)
    parser.add_argument('--folders', nargs='+', default=[], metavar='DIR',
                        help='folders whose files the page and the API may read by name (nothing else is served)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 shares it with '
                             'the network)')
    parser.add_argument('--port', type=int, default=7860, help='port (default 7860)')
    parser.add_argument('--device', help='cpu, cuda, cuda:1, ... (default: cuda when available)')
    parser.add_argument('--max-batch', type=int, default=DEFAULT_MAX_BATCH,
                        help=f'images of concurrent requests run in one forward pass (default {DEFAULT_MAX_BATCH})')
    parser.add_argument('--no-batching', action='store_true', help='one image per forward pass (--max-batch 1)')
    parser.add_argument('--batch-wait-ms', type=float, default=DEFAULT_WAIT_MS,
                        help=f'how long a request waits for others to batch with (default {DEFAULT_WAIT_MS} ms)')
    parser.add_argument('--queue-size', type=int, default=DEFAULT_QUEUE_SIZE,
                        help=f'requests in progress at most; the next is answered "busy, retry" '
                             f'(default {DEFAULT_QUEUE_SIZE}, at most {MAX_QUEUE_SIZE})')
    parser.add_argument('--timeout', type=float, default=DEFAULT_TIMEOUT_S,
                        help=f'seconds a request may wait for its answer (default {DEFAULT_TIMEOUT_S})')
    parser.add_argument('--max-upload-mb', type=float, default=DEFAULT_MAX_UPLOAD_MB,
                        help=f'largest image file accepted, in MiB (default {DEFAULT_MAX_UPLOAD_MB})')
    parser.add_argument('--max-pixels', type=int, default=DEFAULT_MAX_PIXELS,
                        help=f'largest image accepted, in pixels (default {DEFAULT_MAX_PIXELS:,})')
    parser.add_argument('--min-confidence', type=float, default=0.5,
                        help='DepictQA answers below this confidence are flagged (default 0.5)')


def _validate(args):
    from pyiqa_uniqa.errors import UserError

    if not args.metrics and not args.metric_opt:
        raise UserError('no metrics given: use -m NAME [NAME ...] (any name `pyiqa -ls` lists).')
    for folder in args.folders:
        if not Path(folder).is_dir():
            raise UserError(f'--folders {folder}: no such folder.')
    if not 0 < args.port < 65536:
        raise UserError(f'--port must be between 1 and 65535, not {args.port}.')
    positive = {'--max-batch': args.max_batch, '--timeout': args.timeout, '--max-upload-mb': args.max_upload_mb,
                '--max-pixels': args.max_pixels, '--threads': 1 if args.threads is None else args.threads}
    for flag, value in positive.items():
        if value <= 0:
            raise UserError(f'{flag} must be positive, not {value}.')
    if args.batch_wait_ms < 0:
        raise UserError(f'--batch-wait-ms must be 0 or more, not {args.batch_wait_ms}.')
    if not 1 <= args.queue_size <= MAX_QUEUE_SIZE:
        raise UserError(f'--queue-size must be between 1 and {MAX_QUEUE_SIZE}, not {args.queue_size}.')
    if not 0 <= args.min_confidence <= 1:
        raise UserError(f'--min-confidence must be between 0 and 1, not {args.min_confidence}.')
    if args.metric_opt and not Path(args.metric_opt).is_file():
        raise UserError(f'--metric-opt {args.metric_opt}: no such file.')
    _check_port_free(args.host, args.port)
    try:
        import fastapi  # noqa: F401
        import gradio  # noqa: F401
    except ImportError as err:
        raise UserError(f'the app needs the app extra ({err.name} is missing): pip install "pyiqa-uniqa[app]".') from None


def _check_port_free(host, port):
    """Refuse a port in use now, before minutes of model loading."""
    import socket

    from pyiqa_uniqa.errors import UserError

    try:
        family = socket.getaddrinfo(host, port)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as err:
        raise UserError(f'--host {host} --port {port}: cannot listen there ({err.strerror or err}); '
                        'choose another --port.') from None


def settings_of(args):
    import torch

    from pyiqa_uniqa.apps.app.limits import RequestLimits
    from pyiqa_uniqa.apps.app.service import ServiceSettings
    from pyiqa_uniqa.errors import UserError

    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise UserError(f'--device {device}: this machine has no CUDA device; use --device cpu.')
    return ServiceSettings(device=device, max_batch=1 if args.no_batching else args.max_batch,
                           queue_size=args.queue_size, wait_ms=args.batch_wait_ms, timeout_s=args.timeout,
                           min_confidence=args.min_confidence,
                           limits=RequestLimits(int(args.max_upload_mb * MEBIBYTE), args.max_pixels))


def run(args):
    _validate(args)
    from pyiqa_uniqa.apps.metrics.command_setup import prepare_metric_command

    specs = prepare_metric_command('app', args)
    from pyiqa_uniqa.apps.app.limits import ServedFolders
    from pyiqa_uniqa.apps.app.server import build_app, make_server
    from pyiqa_uniqa.apps.app.service import ScoringService

    settings = settings_of(args)
    service = ScoringService(specs, settings)
    try:
        for note in service.notes():
            print(f'app: note: {note}', file=sys.stderr)
        server = make_server(build_app(service, ServedFolders(args.folders)), args.host, args.port)
        if args.host not in ('127.0.0.1', 'localhost', '::1'):
            print(f'app: listening on {args.host}: anyone who can reach this machine can use the page and the API.',
                  file=sys.stderr)
        print(f'app: http://{args.host}:{args.port} (page), /api/score, /api/compare, /api/metrics '
              f'(batches of up to {settings.max_batch}, {settings.queue_size} requests at once); Ctrl-C stops it',
              file=sys.stderr)
        server.run()
    finally:
        service.close()
    return 0
