"""``results.md`` and its companions, from the manifest and whatever units have finished."""
from pathlib import Path

from pyiqa_uniqa.apps.protocol.figure import write_spread_figure
from pyiqa_uniqa.apps.protocol.manifest import PROTOCOL_NAME
from pyiqa_uniqa.apps.protocol.table import (
    collect_rows,
    csv_text,
    markdown_table,
    per_split_csv_text,
    unfinished_lines,
)
from pyiqa_uniqa.apps.protocol.units import read_result
from pyiqa_uniqa.files import write_file

HOW = ('SRCC and PLCC are pyiqa\'s validation metrics (`calculate_srcc`, `calculate_plcc`) of each unit\'s '
       'training, at every `val_freq` and at the end; median and mean ± sample std are over the splits that '
       'finished. **best on val part (honest)**: each split\'s checkpoint is the one with the best SRCC on the '
       'val part carved from its training part, and every tested set is reported at that checkpoint. '
       "**best on test (papers' way)**: for each tested set, the best SRCC it reached at any validation "
       '(how pyiqa\'s `train_nsplits.py` and the official repositories report): the test data chose the '
       'checkpoint, so these numbers are optimistic.')


def write_report(out_dir, manifest, units, rules):
    """Write the report files; return (markdown text, whether every unit finished)."""
    out_dir = Path(out_dir)
    protocol = manifest['protocol']
    results = {unit.folder: read_result(out_dir / unit.folder, unit) for unit in units}
    paper_of = {label: entry.get('paper') for label, entry in protocol['recipes'].items()}
    setting_paper = {label: entry.get('paper', '') for label, entry in protocol['settings'].items()}
    rows = collect_rows(units, results, rules, paper_of, setting_paper)
    unfinished = unfinished_lines(units, results)
    lines = [f'# Protocol {protocol["name"]}', '',
             (f'Rerun or resume: `pyiqa-uniqa protocol -opt {out_dir / PROTOCOL_NAME} --out {out_dir}` '
              f'({PROTOCOL_NAME}: the whole protocol; each unit\'s training options: `units/.../options.yml`).'), '',
             'Splits: ' + '; '.join(f'{name}: {source}' for name, source in manifest['splits'].items())
             + f'; val part: {protocol["val_fraction"]:.0%} of each training part unless the split has its own.', '',
             markdown_table(rows), '']
    if unfinished:
        lines += [f'## Units that did not finish ({len(unfinished)} of {len(units)})', '', *unfinished, '']
    lines += [HOW, '']
    text = '\n'.join(lines)
    write_file(out_dir / 'results.md', text)
    write_file(out_dir / 'results.csv', csv_text(rows))
    write_file(out_dir / 'per_split.csv', per_split_csv_text(rows))
    write_spread_figure(rows, out_dir / 'spread.png')
    return text, not unfinished
