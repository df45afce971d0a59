"""The protocol's table: per recipe, dataset trained on, setting, tested set and selection rule, the
median and mean ± std of SRCC and PLCC over the splits that finished, beside the paper's number.

``results.md`` (the table, the units that did not finish and why, how the numbers were made) and
``results.csv`` (one row per table row, plus ``per_split.csv``: every unit's numbers). The paper's
numbers are eval's reference table rows (``request.py`` says which row a column takes).
"""
import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np

from pyiqa_uniqa.apps.bench.eval.correlations import summarise
from pyiqa_uniqa.apps.bench.eval.references import DEFAULT_REFERENCES, load_references
from pyiqa_uniqa.apps.metrics.failures import shorten
from pyiqa_uniqa.apps.protocol.units import BEST_ON_TEST, HONEST

RULE_LABELS = {HONEST: 'best on val part (honest)', BEST_ON_TEST: "best on test (papers' way)"}
FIGURES = ('srcc', 'plcc')


@dataclass
class Row:
    recipe: str
    setting: str
    trained_on: str
    tested_on: str  # 'test' or 'cross-<name>'
    rule: str
    total: int  # splits planned
    per_split: list = field(default_factory=list)  # [{'split', 'iter', 'srcc', 'plcc'}]
    reference: object = None

    @property
    def tested_label(self):
        return f'{self.trained_on} test part' if self.tested_on == 'test' else f'{self.tested_on[len("cross-"):]} (whole)'

    def median(self, figure):
        values = [s[figure] for s in self.per_split if not math.isnan(s[figure])]
        return float(np.median(values)) if values else math.nan


def collect_rows(units, results, rules, paper_of, setting_paper, references=None):
    """Table rows from ``results`` (``{unit folder: result dict}``; only complete ones count).

    ``paper_of``: recipe label -> metric name in ``references`` (eval's reference table by default);
    ``setting_paper``: setting label -> the text its reference rows' setting contains."""
    references = load_references(DEFAULT_REFERENCES) if references is None else references
    rows = {}
    for unit in units:
        for column in unit.columns:
            for rule in rules:
                key = (unit.recipe, unit.setting, unit.dataset, column, rule)
                if key not in rows:
                    rows[key] = Row(*key, total=0, reference=_reference(
                        references, paper_of.get(unit.recipe), unit.dataset, column, setting_paper.get(unit.setting, '')))
                row = rows[key]
                row.total += 1
                result = results.get(unit.folder)
                if not result or result.get('state') != 'complete':
                    continue
                selected = result['selected'][rule]
                entry = selected['columns'].get(column) or {}
                row.per_split.append({'split': unit.split, 'iter': selected.get('iter', entry.get('iter')),
                                      **{f: float(entry.get(f, math.nan)) for f in FIGURES}})
    return list(rows.values())


def _reference(references, metric, trained_on, column, setting_text):
    """The reference row for this column (see request.py), or None."""
    if not metric:
        return None
    dataset = trained_on if column == 'test' else column[len('cross-'):]
    wanted = setting_text if column == 'test' else f'cross-dataset from {trained_on}'
    return next((r for r in references if r.dataset == dataset and metric in r.metrics and wanted in r.setting), None)


def _number(value, digits=4):
    return '–' if value is None or math.isnan(value) else f'{value:.{digits}f}'


def _cells(row):
    summary = summarise(row.per_split, names=FIGURES)
    cells = {'splits': f'{len(row.per_split)}/{row.total}'}
    for figure in FIGURES:
        cells[f'{figure} median'] = _number(row.median(figure))
        cells[f'{figure} mean ± std'] = summary[figure].format() if row.per_split else '–'
    ref = row.reference
    cells['paper'] = f'{_number(ref.srcc, 3)} / {_number(ref.plcc, 3)}' if ref else ''
    cells['paper source'] = f'{ref.method}: {ref.setting} ({ref.source})' if ref else ''
    return cells


HEADER = ('recipe', 'setting', 'trained on', 'tested on', 'checkpoint chosen by', 'splits', 'SRCC median',
          'SRCC mean ± std', 'PLCC median', 'PLCC mean ± std', 'paper SRCC / PLCC', 'paper source')


def markdown_table(rows):
    lines = ['| ' + ' | '.join(HEADER) + ' |', '|---' * len(HEADER) + '|']
    for row in rows:
        cells = _cells(row)
        lines.append('| ' + ' | '.join([row.recipe, row.setting, row.trained_on, row.tested_label,
                                        RULE_LABELS[row.rule], cells['splits'], cells['srcc median'],
                                        cells['srcc mean ± std'], cells['plcc median'], cells['plcc mean ± std'],
                                        cells['paper'], cells['paper source']]) + ' |')
    return '\n'.join(lines)


def unfinished_lines(units, results):
    """One line per unit without a complete result: failed (with the reason) or not run yet."""
    lines = []
    for unit in units:
        result = results.get(unit.folder)
        if result and result.get('state') == 'complete':
            continue
        if result:
            reason = shorten(result.get('error') or f'exit status {result.get("returncode")}', 400)
            lines.append(f'- **{unit.label}** failed ({unit.folder}/train.log): {reason}')
        else:
            lines.append(f'- **{unit.label}**: not run yet')
    return lines


def csv_text(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(['recipe', 'setting', 'trained_on', 'tested_on', 'selection', 'splits_done', 'splits',
                     'srcc_median', 'srcc_mean', 'srcc_std', 'plcc_median', 'plcc_mean', 'plcc_std',
                     'paper_srcc', 'paper_plcc', 'paper_source'])
    for row in rows:
        summary = summarise(row.per_split, names=FIGURES)
        ref = row.reference
        writer.writerow([row.recipe, row.setting, row.trained_on, row.tested_label, row.rule, len(row.per_split),
                         row.total, row.median('srcc'), summary['srcc'].mean, summary['srcc'].std,
                         row.median('plcc'), summary['plcc'].mean, summary['plcc'].std,
                         ref.srcc if ref else '', ref.plcc if ref else '',
                         f'{ref.method}: {ref.setting} ({ref.source})' if ref else ''])
    return buffer.getvalue()


def per_split_csv_text(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(['recipe', 'setting', 'trained_on', 'tested_on', 'selection', 'split', 'iter', 'srcc', 'plcc'])
    for row in rows:
        for entry in row.per_split:
            writer.writerow([row.recipe, row.setting, row.trained_on, row.tested_label, row.rule, entry['split'],
                             entry['iter'], entry['srcc'], entry['plcc']])
    return buffer.getvalue()
