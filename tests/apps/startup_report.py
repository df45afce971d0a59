"""Print what each metric command costs before it reads its first image: CPU time and heavy modules.

    python tests/apps/startup_report.py                        # this checkout
    python tests/apps/startup_report.py --trees /work/main .   # two checkouts, taking turns (before / after)

Each command runs in a fresh interpreter (``PYTHONPATH`` = the tree) with an audit hook that notes
the moment the first input image is opened: the process's CPU time until then (imports, metric
creation; robust to other jobs on the machine, unlike wall time), the wall time, and which of the
heavy optional packages were imported by then. Images are read in the scoring process
(``--num-workers 0``: an audit hook does not see a reader process's reads), which is why ``rank``, which
has no such flag, is not here. The trees take turns for ``--rounds`` rounds; figures are medians
(lowest–highest).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HEAVY = ('torch', 'torchvision', 'torch._dynamo', 'pyiqa', 'open_clip', 'timm', 'transformers', 'pandas',
         'matplotlib', 'scipy.stats', 'pyarrow', 'sklearn')

# the first image the command opens is the moment measured; its own output goes to a scratch folder
PROBE = r'''
import json, os, runpy, sys, time
start = time.perf_counter()
folder, report = os.path.abspath(sys.argv[1]), sys.argv[2]
heavy = json.loads(sys.argv[3])
seen = []
def hook(event, args):
    if seen:
        return
    path = args[0] if event == 'open' and isinstance(args[0], (str, os.PathLike)) else None
    if path is not None and os.path.abspath(path).startswith(folder) and not os.path.isdir(path):
        seen.append(1)
        with open(report, 'w') as f:
            json.dump({'cpu_s': time.process_time(), 'wall_s': time.perf_counter() - start,
                       'heavy': [m for m in heavy if m in sys.modules], 'modules': len(sys.modules)}, f)
sys.addaudithook(hook)
sys.argv = ['pyiqa-uniqa', *sys.argv[4:]]
runpy.run_module('pyiqa_uniqa', run_name='__main__')
'''


def commands(images, second, work):
    """(name, argv) of the metric commands, on small inputs; images are read in the main process."""
    return [
        ('score', ['score', '-m', 'piqe', '--images', images, '--out', f'{work}/s.csv', '--no-resume',
                   '--no-progress', '--num-workers', '0']),
        ('compare', ['compare', images, second, '-m', 'piqe', '--out', f'{work}/compare', '--no-progress',
                     '--num-workers', '0']),
        ('label', ['label', '--images', images, '--out', f'{work}/labels.csv', '--model-name', 'tiny-clip-quickgelu',
                   '--backbone-weights', 'random', '--num-workers', '0', '--no-progress']),
    ]


def probe(tree, name, first, second):
    """One run of command ``name`` with ``tree`` on ``PYTHONPATH``, writing into a fresh folder (no journal
    to resume from)."""
    with tempfile.TemporaryDirectory() as work:
        argv = dict(commands(first, second, work))[name]
        report = Path(work) / 'probe.json'
        environment = {**os.environ, 'PYTHONPATH': str(Path(tree).resolve()), 'HF_HUB_OFFLINE': '1'}
        done = subprocess.run([sys.executable, '-c', PROBE, first, str(report), json.dumps(HEAVY), *argv],
                              capture_output=True, text=True, env=environment, cwd=work)
        return _result(report, argv, done)


def _result(report, argv, done):
    if not report.exists():
        raise RuntimeError(f'{argv[0]} read no image: {done.stderr[-1500:]}')
    return json.loads(report.read_text())


def median_range(values):
    return f'{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trees', nargs='+', default=['.'], help='checkouts to compare (PYTHONPATH of each run)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--only', nargs='+', help='command names to run (default: all)')
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.trees[-1]).resolve()))
    from pyiqa_uniqa.apps.bench.speed.pipeline import write_photo_folder

    with tempfile.TemporaryDirectory() as work:
        first = str(write_photo_folder(Path(work) / 'a', 4))
        second = str(write_photo_folder(Path(work) / 'b', 4))
        print(f'load average at the start: {", ".join(f"{v:.2f}" for v in os.getloadavg())}; '
              f'{args.rounds} rounds, trees taking turns; CPU-s and wall-s until the first image is opened')
        print('| command | tree | CPU-s to first image | wall-s to first image | heavy modules loaded by then |')
        print('|---|---|---|---|---|')
        for name, _ in commands(first, second, work):
            if args.only and name not in args.only:
                continue
            runs = {tree: [] for tree in args.trees}
            for _ in range(args.rounds):
                for tree in args.trees:
                    runs[tree].append(probe(tree, name, first, second))
            for tree, results in runs.items():
                print(f'| {name} | {tree} | {median_range([r["cpu_s"] for r in results])} | '
                      f'{median_range([r["wall_s"] for r in results])} | {", ".join(results[-1]["heavy"])} |',
                      flush=True)
        print(f'load average at the end: {", ".join(f"{v:.2f}" for v in os.getloadavg())}')


if __name__ == '__main__':
    main()
