"""``pyiqa-uniqa rank``: rank candidates of the same scene (e.g. several restorations of one photo).

    pyiqa-uniqa rank out_a.png out_b.png out_c.png -m depictqa --out ranking/        # one scene
    pyiqa-uniqa rank model_x/ model_y/ model_z/ -m depictqa-fr --ref clean/ --out ranking/
    pyiqa-uniqa rank model_x/ model_y/ -m uniqa --out ranking/                      # a score metric

Candidates are files (one scene) or folders, one per processing model, whose images are matched
by relative path (each relative path is a scene; a scene missing from some folder is ranked
among the folders that have it). ``--ref`` is the reference file, or a folder matched the same way.

- With a descriptive model (``depictqa``, ``depictqa-fr``) every ordered pair of a scene's
  candidates is compared (both orders, so the model's preference for the first or second position
  cancels out) and the verdicts become a **win rate**: the chosen image gets the verdict's
  confidence and the other one the rest, and a candidate's win rate is the mean of its votes (the
  DepictQA authors' confidence-weighted voting). We use win rates rather than a Bradley-Terry fit:
  with every pair compared equally often, the Bradley-Terry maximum-likelihood strengths order
  the candidates exactly as their total wins do, so the fit adds no ranking information, while it
  diverges for a candidate that wins every comparison; a win rate is also read directly.
- With a score metric the scores are sorted (pyiqa's ``lower_better`` respected).
Ties share the mean of their ranks. A candidate whose image cannot be read is left unranked in its
scene and listed. Over folders, the processing models are also ranked overall: mean rank and win
rate (head-to-head meetings won over all scenes, ties half) with bootstrap intervals over scenes.
Writes ``ranking.csv``, ``models.csv`` (folders), ``pairs.csv`` (descriptive models), ``rank.md``.
"""
import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PAIRS_PER_CALL = 16  # A/B comparisons decoded together (the language model's batch)


@dataclass
class Scene:
    name: str
    candidates: dict  # candidate name -> image path
    ref: str = ''


@dataclass
class SceneRanking:
    scene: str
    values: dict  # candidate -> score or win rate (NaN: not ranked)
    ranks: dict  # candidate -> rank (1 = best; NaN: not ranked)
    problems: dict = field(default_factory=dict)  # candidate -> why it is not ranked


def pair_schedule(candidates):
    """Every ordered pair of distinct candidates: each pair in both orders."""
    return list(itertools.permutations(candidates, 2))


def find_scenes(candidates, ref=None):
    """Scenes from candidate files (one scene) or folders (one scene per relative path)."""
    from pyiqa_uniqa.errors import UserError
    from pyiqa_uniqa.apps.scoring.compare import folder_names
    from pyiqa_uniqa.apps.scoring.inputs import find_images

    paths = [Path(c) for c in candidates]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UserError(f'rank: no such file or folder: {", ".join(missing)}.')
    if len(paths) < 2:
        raise UserError('rank: give at least two candidates (files of one scene, or folders of processing models).')
    if all(p.is_file() for p in paths):
        if ref and not Path(ref).is_file():
            raise UserError(f'rank: --ref {ref}: candidates are files, so the reference must be one file.')
        names = folder_names(candidates)
        return [Scene('scene', dict(zip(names, map(str, paths))), str(ref or ''))], False
    if not all(p.is_dir() for p in paths):
        raise UserError('rank: give either files (candidates of one scene) or folders (one per processing model), '
                        'not both.')
    if ref and not Path(ref).is_dir():
        raise UserError(f'rank: --ref {ref}: candidates are folders, so the references must be a folder '
                        'matched by relative path.')
    try:
        names = folder_names(candidates)
    except ValueError as err:
        raise UserError(f'rank: {err}.') from None
    by_scene = {}
    for name, folder in zip(names, paths):
        for row in find_images(folder).rows:
            relative = str(Path(row.path).relative_to(folder))
            by_scene.setdefault(relative, {})[name] = row.path
    scenes = [Scene(rel, {n: found[n] for n in names if n in found}, str(Path(ref) / rel) if ref else '')
              for rel, found in sorted(by_scene.items())]
    return [s for s in scenes if len(s.candidates) >= 2], True


def _rank_values(scene, values, lower_better, problems):
    from pyiqa_uniqa.apps.scoring.statistics import ranks

    names = list(scene.candidates)
    ordered = ranks([values.get(n, float('nan')) for n in names], lower_better)
    return SceneRanking(scene.name, {n: values.get(n, float('nan')) for n in names}, dict(zip(names, ordered)),
                        problems)


def rank_by_scores(scenes, column, settings):
    """Score every candidate with ``score``'s engine, then sort each scene."""
    from pyiqa_uniqa.apps.scoring.columns import metric_config
    from pyiqa_uniqa.apps.scoring.engine import score_rows
    from pyiqa_uniqa.apps.scoring.inputs import ImageRow

    rows = sorted({ImageRow(path, scene.ref if column.full_reference else '')
                   for scene in scenes for path in scene.candidates.values()}, key=lambda r: r.key)
    records = score_rows(rows, [column], settings).records.get(column.id, {})
    lower_better = bool(metric_config(column.spec.name).get('lower_better', False))
    rankings = []
    for scene in scenes:
        values, problems = {}, {}
        for name, path in scene.candidates.items():
            record = records.get(column.row_key((path, scene.ref)), {'error': 'not scored'})
            if 'error' in record:
                problems[name] = record['error']
            else:
                values[name] = record['score']
        rankings.append(_rank_values(scene, values, lower_better, problems))
    return rankings, []


def rank_by_comparisons(scenes, metric, full_reference, progress=True):
    """A/B comparisons of every ordered pair in each scene -> (rankings, pair rows)."""
    from tqdm import tqdm

    from pyiqa_uniqa.data.pyiqa_reading import is_ours
    from pyiqa_uniqa.apps.scoring.engine import read_like_pyiqa
    from pyiqa_uniqa.apps.scoring.statistics import soft_votes, win_rates

    rankings, pairs = [], []
    ours = is_ours(type(metric.net))
    total = sum(len(s.candidates) * (len(s.candidates) - 1) for s in scenes)
    with tqdm(total=total, desc='A/B comparisons', unit='pair', file=sys.stderr, disable=not progress) as bar:
        for scene in scenes:
            images, problems = {}, {}
            for name, path in scene.candidates.items():
                try:
                    images[name] = read_like_pyiqa(path, ours)
                except Exception as err:  # noqa: BLE001 - the candidate is left unranked, with the reason
                    problems[name] = f'{type(err).__name__}: {err}'
            ref = None
            if full_reference:
                try:
                    ref = read_like_pyiqa(scene.ref, ours) if scene.ref else None
                except Exception as err:  # noqa: BLE001 - no comparison possible in this scene
                    problems = {n: f'reference {scene.ref}: {type(err).__name__}: {err}' for n in scene.candidates}
                if ref is None and not problems:
                    problems = {n: 'no reference image (give --ref)' for n in scene.candidates}
            schedule = [(a, b) for a, b in pair_schedule(list(scene.candidates)) if a not in problems and b not in problems]
            verdicts = []
            for start in range(0, len(schedule), PAIRS_PER_CALL):
                chunk = schedule[start:start + PAIRS_PER_CALL]
                answers = metric.net.compare([images[a] for a, _ in chunk], [images[b] for _, b in chunk],
                                             ref=[ref] * len(chunk) if ref is not None else None)
                for (first, second), (verdict, confidence) in zip(chunk, answers):
                    verdicts.append((first, second, verdict, confidence))
                    vote_first, vote_second = soft_votes(verdict, confidence)
                    pairs.append({'scene': scene.name, 'first': first, 'second': second, 'verdict': verdict,
                                  'confidence': confidence, 'vote_first': vote_first, 'vote_second': vote_second})
                bar.update(len(chunk))
            bar.update(len(scene.candidates) * (len(scene.candidates) - 1) - len(schedule))  # pairs skipped
            rates = win_rates([n for n in scene.candidates if n not in problems], verdicts)
            rankings.append(_rank_values(scene, rates, False, problems))
    return rankings, pairs


def rank_models(rankings, models, resamples=2000, level=0.95, seed=0):
    """Overall per processing model: mean rank and head-to-head win rate, with intervals over scenes."""
    from pyiqa_uniqa.apps.scoring.statistics import bootstrap

    rows = []
    for model in models:
        scene_ranks, scene_wins = [], []
        for ranking in rankings:
            own = ranking.ranks.get(model, float('nan'))
            if np.isnan(own):
                continue
            others = [r for m, r in ranking.ranks.items() if m != model and not np.isnan(r)]
            scene_ranks.append(own)
            if others:
                scene_wins.append(np.mean([1.0 if own < r else 0.5 if own == r else 0.0 for r in others]))
        options = {'resamples': resamples, 'level': level, 'seed': seed}
        mean_rank, win_rate = bootstrap(scene_ranks, np.mean, **options), bootstrap(scene_wins, np.mean, **options)
        rows.append({'model': model, 'scenes': len(scene_ranks), 'mean_rank': mean_rank.estimate,
                     'mean_rank_low': mean_rank.low, 'mean_rank_high': mean_rank.high, 'win_rate': win_rate.estimate,
                     'win_rate_low': win_rate.low, 'win_rate_high': win_rate.high})
    return sorted(rows, key=lambda r: (np.nan_to_num(r['mean_rank'], nan=np.inf), -r['win_rate']))


def add_arguments(parser):
    parser.add_argument('candidates', nargs='+', metavar='CANDIDATE',
                        help='image files of one scene, or folders (one per processing model) matched by relative path')
    parser.add_argument('-m', '--metric', required=True,
                        help='depictqa / depictqa-fr (A/B comparisons) or any score metric, with options as for score')
    parser.add_argument('--ref', help='reference image (file candidates) or folder (folder candidates)')
    parser.add_argument('--out', default='ranking', help='report folder (default ./ranking)')
    parser.add_argument('--resamples', type=int, default=2000, help='bootstrap resamples for the overall ranking')
    parser.add_argument('--seed', type=int, default=0, help='seed of the bootstrap (default 0)')
    parser.add_argument('--device', help='cpu, cuda, ... (default: cuda when available)')
    parser.add_argument('--offline', action='store_true', help='never try the Hugging Face Hub')
    parser.add_argument('--no-progress', action='store_true')


def _fmt(value):
    return '–' if value is None or (isinstance(value, float) and np.isnan(value)) else f'{value:.4g}'


def markdown(rankings, models, pairs, value_name):
    lines = ['# Ranking', '']
    for ranking in rankings:
        lines += [f'## {ranking.scene}', '', f'| rank | candidate | {value_name} |', '|---|---|---|']
        for name in sorted(ranking.values, key=lambda n: np.nan_to_num(ranking.ranks[n], nan=np.inf)):
            problem = f' (not ranked: {ranking.problems[name]})' if name in ranking.problems else ''
            lines.append(f'| {_fmt(ranking.ranks[name])} | {name}{problem} | {_fmt(ranking.values[name])} |')
        lines.append('')
    if models:
        lines += ['## Processing models overall', '',
                  '| model | scenes | mean rank [interval] | win rate [interval] |', '|---|---|---|---|']
        for r in models:
            lines.append(f"| {r['model']} | {r['scenes']} | {_fmt(r['mean_rank'])} [{_fmt(r['mean_rank_low'])}, "
                         f"{_fmt(r['mean_rank_high'])}] | {_fmt(r['win_rate'])} [{_fmt(r['win_rate_low'])}, "
                         f"{_fmt(r['win_rate_high'])}] |")
        lines.append('')
    if pairs:
        lines += [f'{len(pairs)} A/B comparisons (every pair, both orders): pairs.csv.', '']
    return '\n'.join(lines)


def run(args):
    from pyiqa_uniqa.apps.outputs import report_folder
    from pyiqa_uniqa.network import offline_mode

    with report_folder(args.out):
        offline_mode(args.offline)
        return _rank(args)


def _rank(args):
    from pyiqa_uniqa.apps.metrics.metric_checks import check_device, check_metric_options
    from pyiqa_uniqa.apps.metrics.pyiqa_downloads import guard_pyiqa_downloads
    from pyiqa_uniqa.apps.outputs import staged_files
    from pyiqa_uniqa.apps.run_defaults import metric_kind, settle
    from pyiqa_uniqa.errors import UserError
    from pyiqa_uniqa.apps.scoring.columns import network_can
    from pyiqa_uniqa.apps.scoring.engine import ScoreSettings, resolve_columns

    scenes, over_folders = find_scenes(args.candidates, args.ref)  # before importing torch: a typo is instant
    if not scenes:
        raise UserError('rank: no scene has two candidates: the folders share no relative path.')
    import pyiqa

    column = resolve_columns([args.metric])[0]
    check_metric_options([column.spec])
    check_device(args.device)
    if column.full_reference and not args.ref:
        raise UserError(f'rank: {column.spec.label} is a full-reference metric: give --ref.')
    guard_pyiqa_downloads()
    out = Path(args.out)
    if network_can(column.spec.name, 'compare'):  # a descriptive model: A/B comparisons
        metric = pyiqa.create_metric(column.spec.name, device=args.device, **column.spec.options)
        settle(metric_kind(metric, column.spec.name), metric.device)  # torch threads for its kind
        rankings, pairs = rank_by_comparisons(scenes, metric, column.full_reference, not args.no_progress)
        value_name = 'win rate'
    else:
        settings = ScoreSettings(device=args.device, journal=out / 'journal', progress=not args.no_progress)
        rankings, pairs = rank_by_scores(scenes, column, settings)
        value_name = column.spec.label
    if all(np.isnan(list(r.values.values())).all() for r in rankings):
        raise UserError('rank: no candidate could be scored: ' + next(iter(rankings[0].problems.values()), ''))
    model_names = list(dict.fromkeys(n for s in scenes for n in s.candidates))
    models = rank_models(rankings, model_names, args.resamples, seed=args.seed) if over_folders else []
    import pandas as pd  # for the tables only: not imported before the images are scored

    table = pd.DataFrame([{'scene': r.scene, 'candidate': n, value_name: r.values[n], 'rank': r.ranks[n],
                           'problem': r.problems.get(n, '')} for r in rankings for n in r.values])
    outputs = {'ranking.csv': table, 'models.csv': pd.DataFrame(models) if models else None,
               'pairs.csv': pd.DataFrame(pairs) if pairs else None}
    report = markdown(rankings if len(rankings) <= 20 else rankings[:20], models, pairs, value_name)
    with staged_files(out) as stage:  # the report's files appear together or not at all
        for name, frame in outputs.items():
            if frame is not None:
                frame.to_csv(stage / name, index=False)
        (stage / 'rank.md').write_text(report, encoding='utf-8')
    print(report)
    print(f'rank: written to {out}/ ({", ".join(n for n, f in outputs.items() if f is not None)}, rank.md)',
          file=sys.stderr)
    return 0
