"""Write an eval run's tables: ``results.md``, ``results.csv`` (one row per cell) and
``results_per_split.csv``. Rewritten after every cell, so an interrupted run still leaves a report.
"""
import csv
import math

from pyiqa_uniqa.apps.bench.eval.correlations import CORRELATION_NAMES
from pyiqa_uniqa.apps.metrics.failures import OK, shorten

CONVENTIONS = (
    'SRCC/KRCC: rank correlations. PLCC: Pearson after the 4-parameter logistic fit '
    '(`plcc_raw`: without it). RMSE: between the fitted scores and MOS, on the dataset\'s MOS scale. '
    'Scores of lower-better metrics and MOS of lower-better datasets are negated first, so a '
    'positive correlation always means agreement. With several splits: mean ± sample std.')


def _number(value, digits=4):
    return '' if value is None or (isinstance(value, float) and math.isnan(value)) else f'{value:.{digits}f}'


def _cell_text(result):
    if result.status != OK:
        return ', '.join([result.status] + ([result.dataset_problem[0]] if result.dataset_problem else []))
    text = f"{result.summary['srcc'].format()} / {result.summary['plcc'].format()}"
    ref = result.reference
    if ref is not None:
        text += f' (paper {_number(ref.srcc, 3) or "–"} / {_number(ref.plcc, 3) or "–"})'
    return text


def markdown_report(results, command='', context=''):
    metrics = list(dict.fromkeys(r.metric for r in results))
    datasets = list(dict.fromkeys(r.dataset for r in results))
    by_cell = {(r.metric, r.dataset): r for r in results}
    lines = ['# IQA evaluation', '']
    if command:
        lines += [f'Command: `{command}`', '']
    if context:
        lines += [context, '']
    lines += [CONVENTIONS, '', '## SRCC / PLCC', '',
              '| metric | ' + ' | '.join(datasets) + ' |', '|---' * (len(datasets) + 1) + '|']
    for metric in metrics:
        cells = [_cell_text(by_cell[(metric, d)]) if (metric, d) in by_cell else '' for d in datasets]
        lines.append(f'| {metric} | ' + ' | '.join(cells) + ' |')
    computed = [r for r in results if r.status == OK]
    if computed:
        lines += ['', '## All figures', '',
                  '| metric | dataset | images | splits | SRCC | PLCC | PLCC raw | KRCC | RMSE | paper SRCC / PLCC | paper setting |',
                  '|---' * 11 + '|']
    for r in computed:
        ref = r.reference
        paper = f'{_number(ref.srcc, 3) or "–"} / {_number(ref.plcc, 3) or "–"}' if ref else ''
        setting = f'{ref.method}: {ref.setting} ({ref.source})' if ref else ''
        figures = ' | '.join(r.summary[name].format() for name in CORRELATION_NAMES)
        lines.append(f'| {r.metric} | {r.dataset} | {len(r.pred)} | {len(r.per_split)} | {figures} | {paper} | {setting} |')
    problems = list(dict.fromkeys(problem for r in results for problem in r.problems))  # each once
    if problems:
        lines += ['', '## Problems', '']
        lines += [f'- **{subject}** ({status}): {shorten(message, 400)}' for subject, status, message in problems]
    if any(len(r.per_split) > 1 for r in results):
        lines += ['', '## Per split', '', '| metric | dataset | split | images | SRCC | PLCC | PLCC raw | KRCC | RMSE |',
                  '|---' * 9 + '|']
        for r in results:
            for s in r.per_split if len(r.per_split) > 1 else ():
                figures = ' | '.join(_number(s[name]) for name in CORRELATION_NAMES)
                lines.append(f"| {r.metric} | {r.dataset} | {s['split']} | {s['n']} | {figures} |")
    return '\n'.join(lines) + '\n'


def write_results_csv(results, path):
    header = ['metric', 'dataset', 'status', 'images', 'splits']
    for name in CORRELATION_NAMES:
        header += [name, f'{name}_std']
    header += ['paper_srcc', 'paper_plcc', 'paper_method', 'paper_setting', 'paper_source', 'message']
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for r in results:
            row = [r.metric, r.dataset, r.status, len(r.pred) if r.pred is not None else '', len(r.per_split)]
            for name in CORRELATION_NAMES:
                s = r.summary.get(name)
                row += [_number(s.mean, 6), _number(s.std, 6)] if s else ['', '']
            ref = r.reference
            row += ([_number(ref.srcc, 3), _number(ref.plcc, 3), ref.method, ref.setting, ref.source] if ref
                    else [''] * 5)
            writer.writerow(row + [r.message])


def write_per_split_csv(results, path):
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(['metric', 'dataset', 'split', 'images', *CORRELATION_NAMES])
        for r in results:
            for s in r.per_split:
                writer.writerow([r.metric, r.dataset, s['split'], s['n'], *(_number(s[n], 6) for n in CORRELATION_NAMES)])


def write_tables(results, out_dir, command='', context=''):
    (out_dir / 'results.md').write_text(markdown_report(results, command, context), encoding='utf-8')
    write_results_csv(results, out_dir / 'results.csv')
    write_per_split_csv(results, out_dir / 'results_per_split.csv')
