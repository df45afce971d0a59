"""``pyiqa-uniqa compare``: one folder per generator or method, any metrics: who scores higher, and how sure.

    pyiqa-uniqa compare gen_a/ gen_b/ gen_c/ -m uniqa clip-agiqa --out comparison/
    pyiqa-uniqa compare restored_x/ restored_y/ -m lpips psnr --ref clean/ --out comparison/

Every folder is scored with ``score``'s engine (one journal, ``<out>/journal/``: a rerun scores only
what is missing, a new folder or metric only its own images). Per folder and metric: images, mean,
median and a bootstrap interval of the mean; per pair of folders: the difference of means with
its interval, paired (the same relative paths in both folders: e.g. one image per prompt) when the
folders hold the same names, else unpaired; and a figure of the score distributions.
Writes ``compare.md``, ``summary.csv``, ``differences.csv``, ``scores.csv`` and ``distributions.png``.
"""
import itertools
import sys
from pathlib import Path

from pyiqa_uniqa.apps.metrics.command_setup import add_metric_arguments, prepare_metric_command


def add_arguments(parser):
    parser.add_argument('folders', nargs='+', metavar='FOLDER', help='one folder of images per generator or method')
    add_metric_arguments(parser)  # -m, --metric-opt, --threads, --offline: as in score, eval and bench
    parser.add_argument('--ref', metavar='FOLDER', help='reference images for FR metrics, matched by relative path')
    parser.add_argument('--out', default='comparison', help='report folder (default ./comparison)')
    parser.add_argument('--resamples', type=int, default=2000, help='bootstrap resamples (default 2000)')
    parser.add_argument('--level', type=float, default=0.95, help='interval level (default 0.95)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the bootstrap (default 0)')
    parser.add_argument('--device', help='cpu, cuda, ... (default: cuda when available)')
    parser.add_argument('--batch-size', type=int, help="images per batch (default: score's)")
    parser.add_argument('--num-workers', type=int, help="image-reading processes (default: score's)")
    parser.add_argument('--no-progress', action='store_true')


def folder_names(folders):
    """A short, unique name per folder (its last path part, more parts when two clash)."""
    paths = [Path(f).resolve() for f in folders]
    for depth in range(1, max(len(p.parts) for p in paths) + 1):
        names = ['/'.join(p.parts[-depth:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    raise ValueError('the same folder is given twice')


def score_folders(folders, names, columns, settings, ref=None):
    """-> long DataFrame: folder, name (relative path), one column per output column, error. Every
    folder's images go through one ``score`` run, so each metric's model is loaded once."""
    from pyiqa_uniqa.apps.scoring.columns import DEFAULT_MIN_CONFIDENCE
    from pyiqa_uniqa.apps.scoring.engine import score_rows
    from pyiqa_uniqa.apps.scoring.inputs import find_images, pair_with_folder
    from pyiqa_uniqa.apps.scoring.table import build_table

    origin, rows = {}, []
    for folder, name in zip(folders, names):
        images = find_images(folder)
        if ref:
            images = pair_with_folder(images, ref)
        for row, relative in zip(images.rows, images.relative):
            origin[row.key] = (name, relative)
            rows.append(row)
    rows.sort(key=lambda row: row.key)
    table = build_table(score_rows(rows, columns, settings), DEFAULT_MIN_CONFIDENCE)
    keys = list(zip(table['path'], table['ref'] if 'ref' in table else [''] * len(table)))
    table.insert(0, 'name', [origin[key][1] for key in keys])
    table.insert(0, 'folder', [origin[key][0] for key in keys])
    order = {name: i for i, name in enumerate(names)}
    return table.sort_values(['folder', 'name'], key=lambda c: c.map(order) if c.name == 'folder' else c,
                             kind='stable').reset_index(drop=True)


def summarise(scores, names, labels, lower_better, resamples, level, seed):
    """-> (per-folder summary rows, pairwise difference rows, whether pairs were matched)."""
    import numpy as np

    from pyiqa_uniqa.apps.scoring.statistics import bootstrap, mean_difference

    options = {'resamples': resamples, 'level': level, 'seed': seed}
    summary, differences = [], []
    for label in labels:
        per_folder = {n: scores[(scores.folder == n) & scores[label].notna()].set_index('name')[label].astype(float)
                      for n in names}
        for name in names:
            values = per_folder[name].to_numpy()
            mean = bootstrap(values, np.mean, **options)
            summary.append({'metric': label, 'folder': name, 'images': len(values), 'mean': mean.estimate,
                            'mean_low': mean.low, 'mean_high': mean.high,
                            'median': float(np.median(values)) if len(values) else float('nan'),
                            'lower_better': lower_better[label]})
        for first, second in itertools.combinations(names, 2):
            a, b = per_folder[first], per_folder[second]
            paired = len(a) > 1 and set(a.index) == set(b.index)
            if paired:
                b = b.loc[a.index]
            difference = mean_difference(a.to_numpy(), b.to_numpy(), paired, **options)
            better = ''
            if difference.excludes_zero:
                better = first if (difference.estimate > 0) != lower_better[label] else second
            differences.append({'metric': label, 'first': first, 'second': second, 'difference': difference.estimate,
                                'low': difference.low, 'high': difference.high, 'paired': paired,
                                'better': better})
    return summary, differences


def distribution_figure(scores, names, labels, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(labels), figsize=(1.6 + 1.4 * len(names) * len(labels), 3.6), dpi=110,
                             squeeze=False)
    for ax, label in zip(axes[0], labels):
        data = [scores[(scores.folder == n) & scores[label].notna()][label].astype(float).to_numpy() for n in names]
        shown = [d if len(d) else [float('nan')] for d in data]
        ax.boxplot(shown, showmeans=True)
        for position, values in enumerate(data, start=1):
            ax.scatter([position] * len(values), values, s=8, alpha=0.5, color='C0', zorder=3)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=20, fontsize=8)
        ax.set_title(label, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _markdown(summary, differences, level, command):
    lines = ['# Comparison', '', f'Command: `{command}`', '',
             f'Means with {level:.0%} bootstrap intervals; differences are first − second '
             '(paired when both folders hold the same file names).', '',
             '| metric | folder | images | mean [interval] | median |', '|---|---|---|---|---|']
    for row in summary:
        arrow = ' (lower is better)' if row['lower_better'] else ''
        lines.append(f"| {row['metric']}{arrow} | {row['folder']} | {row['images']} | {row['mean']:.4f} "
                     f"[{row['mean_low']:.4f}, {row['mean_high']:.4f}] | {row['median']:.4f} |")
    lines += ['', '| metric | first − second | difference [interval] | paired | better |', '|---|---|---|---|---|']
    for row in differences:
        lines.append(f"| {row['metric']} | {row['first']} − {row['second']} | {row['difference']:.4f} "
                     f"[{row['low']:.4f}, {row['high']:.4f}] | {'yes' if row['paired'] else 'no'} | "
                     f"{row['better'] or 'not clear'} |")
    return '\n'.join(lines) + '\n'


def command_line(args):
    import shlex

    parts = ['pyiqa-uniqa', 'compare', *args.folders, '-m', *args.metrics]
    for flag in ('ref', 'out', 'resamples', 'level', 'seed'):
        parts += [f'--{flag}', str(getattr(args, flag))] if getattr(args, flag) is not None else []
    return shlex.join(parts)


def run(args):
    from pyiqa_uniqa.errors import UserError

    for folder in args.folders:
        if not Path(folder).is_dir():
            raise UserError(f'compare: {folder} is not a folder; give one folder of images per generator or method.')
    if len(args.folders) < 2:
        raise UserError('compare: give at least two folders to compare.')
    if args.resamples < 100 or not 0 < args.level < 1:
        raise UserError('compare: --resamples must be >= 100 and --level between 0 and 1.')
    from pyiqa_uniqa.apps.outputs import report_folder

    with report_folder(args.out):
        return _compare(args, prepare_metric_command('compare', args))


def _compare(args, specs):
    from pyiqa_uniqa.apps.outputs import staged_files
    from pyiqa_uniqa.errors import UserError
    from pyiqa_uniqa.apps.scoring.columns import metric_config
    from pyiqa_uniqa.apps.scoring.engine import ScoreSettings, resolve_columns

    try:
        names = folder_names(args.folders)
    except ValueError as err:
        raise UserError(f'compare: {err}.') from None
    columns = resolve_columns(specs)
    needs_ref = [c.spec.label for c in columns if c.full_reference]
    if needs_ref and not args.ref:
        raise UserError(f'compare: {", ".join(needs_ref)}: full-reference metric(s) need --ref FOLDER (the '
                        'reference images, matched by relative path).')
    out = Path(args.out)
    settings = ScoreSettings(device=args.device, batch_size=args.batch_size, num_workers=args.num_workers,
                             threads=args.threads, journal=out / 'journal', progress=not args.no_progress)
    scores = score_folders(args.folders, names, columns, settings, args.ref)
    labels = [c.spec.label for c in columns]
    if not scores[labels].notna().to_numpy().any():
        raise UserError(f'compare: no image could be scored (see {out / "journal"}): '
                        f'{scores["error"].iloc[0]}')
    lower_better = {c.spec.label: bool(metric_config(c.spec.name).get('lower_better', False)) for c in columns}
    summary, differences = summarise(scores, names, labels, lower_better, args.resamples, args.level, args.seed)
    import pandas as pd  # for the tables only: not imported before the images are scored

    report = _markdown(summary, differences, args.level, command_line(args))
    with staged_files(out) as stage:  # the report's files appear together or not at all
        for name, rows in (('summary.csv', summary), ('differences.csv', differences), ('scores.csv', None)):
            (scores if rows is None else pd.DataFrame(rows)).to_csv(stage / name, index=False)
        distribution_figure(scores, names, labels, stage / 'distributions.png')
        (stage / 'compare.md').write_text(report + '\n![score distributions](distributions.png)\n', encoding='utf-8')
    print(report)
    failed = (scores['error'] != '').sum()
    if failed:
        print(f'compare: {failed} image(s) could not be scored; see the error column of {out / "scores.csv"}',
              file=sys.stderr)
    print(f'compare: written to {out}/ (compare.md, summary.csv, differences.csv, scores.csv, distributions.png)',
          file=sys.stderr)
    return 0
