"""A bounded load test of ``pyiqa-uniqa app`` on the loopback address.

    python -m pyiqa_uniqa.apps.app.load_test -m piqe --clients 8 --requests 160
    python -m pyiqa_uniqa.apps.app.load_test -m piqe --clients 8 --requests 160 --no-batching
    python -m pyiqa_uniqa.apps.app.load_test --url http://127.0.0.1:7860 --metrics piqe --images shots/

Without ``--url`` it starts ``pyiqa-uniqa app`` itself (a separate process on a free loopback port,
with the metric flags given here) and stops it at the end. It first scores each image once, alone,
for its expected answer; then ``--clients`` threads send ``--requests`` requests in all (image
``i % n`` for request ``i``) to ``/api/score`` as fast as they can, and stop. It prints throughput
(answered images per second), p50/p99 latency of the answered requests, the "busy" rejections
(HTTP 503; not retried), and checks that every answered request got exactly its own answer (its
image's name and expected score); exit status 1 when one did not. Images: ``--images`` (a folder),
or the package's photos at 256x256.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

LOOPBACK = '127.0.0.1'


def multipart(fields):
    """(body, content type) of a multipart form; fields: name -> (filename, bytes) or str."""
    boundary = uuid.uuid4().hex
    body = b''
    for name, value in fields.items():
        if isinstance(value, tuple):
            head = f'form-data; name="{name}"; filename="{value[0]}"'
            data = value[1]
        else:
            head, data = f'form-data; name="{name}"', value.encode()
        body += f'--{boundary}\r\nContent-Disposition: {head}\r\n\r\n'.encode() + data + b'\r\n'
    return body + f'--{boundary}--\r\n'.encode(), f'multipart/form-data; boundary={boundary}'


def post_image(url, name, data, metrics, timeout=600):
    """-> (HTTP status, JSON answer) of one ``/api/score`` request."""
    body, content_type = multipart({'image': (name, data), 'metrics': ','.join(metrics)})
    request = urllib.request.Request(f'{url}/api/score', body, {'Content-Type': content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def sample_images(folder):
    """{name: bytes}: the images of ``folder``, or the package's photos as 256x256 PNGs."""
    if folder:
        from pyiqa_uniqa.apps.scoring.inputs import find_images
        return {Path(row.path).name: Path(row.path).read_bytes() for row in find_images(folder).rows}
    import io

    from PIL import Image

    from pyiqa_uniqa.data.photos import load_photos

    images = {}
    for name, array in load_photos():
        buffer = io.BytesIO()
        Image.fromarray(array).resize((256, 256)).save(buffer, format='PNG')
        images[f'{name}.png'] = buffer.getvalue()
    return images


def free_port():
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def start_server(args, port):
    command = [sys.executable, '-m', 'pyiqa_uniqa', 'app', '--port', str(port), '--host', LOOPBACK,
               '--queue-size', str(args.queue_size), '--max-batch', str(args.max_batch), '-m', *args.metrics]
    for flag, value in (('--metric-opt', args.metric_opt), ('--threads', args.threads), ('--device', args.device)):
        if value:
            command += [flag, str(value)]
    if args.no_batching:
        command.append('--no-batching')
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://{LOOPBACK}:{port}'
    deadline = time.monotonic() + args.start_timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise SystemExit(f'load_test: the server stopped:\n{log.read().decode(errors="replace")}')
        try:
            urllib.request.urlopen(f'{url}/api/health', timeout=2).close()
            return server, url
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise SystemExit(f'load_test: the server did not answer within {args.start_timeout} s')


def process_cpu_seconds(pid):
    """CPU seconds (user + system, all threads) the process ``pid`` has used so far, from /proc (Linux);
    None elsewhere. On shared cores this counts the work, where wall time also counts the waiting."""
    try:
        fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float('nan')


def run_load(url, images, metrics, clients, requests, server_pid=None):
    """-> the figures and the list of mismatches; expected answers first, one request at a time.
    ``server_pid``: the server's process, to count its CPU time during the load."""
    names = list(images)
    expected = {}
    for name in names:
        status, answer = post_image(url, name, images[name], metrics)
        if status != 200:
            raise SystemExit(f'load_test: {name} is refused when alone ({status}): {answer.get("error")}')
        expected[name] = {label: cell.get('score') for label, cell in answer['metrics'].items()}
    counter = iter(range(requests))
    lock = threading.Lock()
    latencies, rejected, failed, mismatches = [], [0], [], []

    def client():
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            name = names[index % len(names)]
            started = time.perf_counter()
            status, answer = post_image(url, name, images[name], metrics)
            elapsed = time.perf_counter() - started
            with lock:
                if status == 503:
                    rejected[0] += 1
                elif status != 200:
                    failed.append(f'request {index}: {status} {answer.get("error")}')
                else:
                    latencies.append(elapsed)
                    got = {label: cell.get('score') for label, cell in answer['metrics'].items()}
                    if answer['image'] != name or not _same(got, expected[name]):
                        mismatches.append(f'request {index} sent {name}, got {answer["image"]}: {got} '
                                          f'(expected {expected[name]})')

    cpu_before = process_cpu_seconds(server_pid) if server_pid else None
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu = process_cpu_seconds(server_pid) - cpu_before if cpu_before is not None else None
    health = json.load(urllib.request.urlopen(f'{url}/api/health', timeout=10))
    figures = {'requests': requests, 'answered': len(latencies), 'rejected_busy': rejected[0],
               'other_errors': len(failed), 'seconds': wall, 'images_per_s': len(latencies) / wall,
               'p50_ms': 1000 * percentile(latencies, 0.5), 'p99_ms': 1000 * percentile(latencies, 0.99),
               'forward_passes_total': health['forward_passes'], 'server_cpu_s': cpu}
    return figures, mismatches + failed


def _same(got, expected, rel=1e-5):
    """Equal up to the float rounding of batched kernels (``score`` promises the same)."""
    if set(got) != set(expected):
        return False
    return all((a is None and b is None) or (a is not None and b is not None and abs(a - b) <= rel * max(1.0, abs(b)))
               for a, b in ((got[k], expected[k]) for k in got))


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m pyiqa_uniqa.apps.app.load_test', description=__doc__.split('\n')[0])
    parser.add_argument('-m', '--metrics', nargs='+', required=True, metavar='METRIC', help='metrics to request')
    parser.add_argument('--url', help='a running server (default: start one on a free loopback port)')
    parser.add_argument('--images', metavar='DIR', help="images to send (default: the package's photos, 256x256)")
    parser.add_argument('--clients', type=int, default=8, help='concurrent clients (default 8)')
    parser.add_argument('--requests', type=int, default=160, help='requests in all (default 160)')
    server_flags = parser.add_argument_group('the server this starts (without --url)')
    server_flags.add_argument('--metric-opt', metavar='YAML')
    server_flags.add_argument('--threads', type=int)
    server_flags.add_argument('--device')
    server_flags.add_argument('--no-batching', action='store_true')
    server_flags.add_argument('--max-batch', type=int, default=8)
    server_flags.add_argument('--queue-size', type=int, default=32)
    server_flags.add_argument('--start-timeout', type=float, default=600)
    args = parser.parse_args(argv)
    if args.clients < 1 or args.requests < 1:
        parser.error('--clients and --requests must be at least 1')
    if args.images and not Path(args.images).is_dir():
        parser.error(f'--images {args.images}: no such folder')
    images = sample_images(args.images)
    if args.url and not args.url.startswith((f'http://{LOOPBACK}', 'http://localhost')):
        parser.error('--url must be a loopback address (http://127.0.0.1:PORT): this test floods its server')
    server, url = (None, args.url.rstrip('/')) if args.url else start_server(args, free_port())
    try:
        figures, problems = run_load(url, images, [m.split(':')[0] for m in args.metrics], args.clients, args.requests,
                                     server.pid if server else None)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
    batching = 'server given' if args.url else ('off' if args.no_batching else f'up to {args.max_batch}')
    print(f'load_test: {figures["requests"]} requests from {args.clients} clients, {len(images)} images, '
          f'metrics {" ".join(args.metrics)}, batching {batching}, torch threads {args.threads or "default"}, '
          f'{os.cpu_count()} CPUs')
    print(f'load_test: answered {figures["answered"]}, rejected busy {figures["rejected_busy"]}, '
          f'other errors {figures["other_errors"]} in {figures["seconds"]:.1f} s: {figures["images_per_s"]:.2f} images/s, '
          f'p50 {figures["p50_ms"]:.0f} ms, p99 {figures["p99_ms"]:.0f} ms, '
          f'{figures["forward_passes_total"]} forward passes in the server (all requests so far)')
    if figures['server_cpu_s']:
        print(f'load_test: the server used {figures["server_cpu_s"]:.1f} CPU-s during the load: '
              f'{figures["answered"] / figures["server_cpu_s"]:.1f} images per CPU-second')
    for problem in problems[:10]:
        print(f'load_test: WRONG: {problem}')
    print(f'load_test: every answered request got its own answer: {"no" if problems else "yes"}')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
