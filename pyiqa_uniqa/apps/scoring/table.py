"""The output table of ``score``: one row per image, one column per metric; read, write and merge it.

Columns: ``path``, ``ref`` (when any row has a reference), each column's header (``columns.py``),
and ``error``: why a row, or some of its cells, have no value ('' when everything was scored).
Rows are sorted by (path, ref), so a table merged from shards equals the table of a single run.
The format follows the file name: ``.csv``, ``.jsonl`` (JSON lines; also ``.ndjson``) or
``.parquet`` (needs pyarrow). Tables are written atomically: a reader never sees half a table.
"""
import math
from pathlib import Path

from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.files import atomic_write

FORMATS = {'.csv': 'csv', '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.parquet': 'parquet'}
TEXT_COLUMNS = ('path', 'ref', 'error')


def table_format(path, flag='--out'):
    """'csv', 'jsonl' or 'parquet' from the file name; ``flag`` names where the name came from."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f'{flag} {path}: unknown table format {suffix or "(no extension)"!r}; '
                        f'name it {", ".join("*" + s for s in FORMATS)}.')
    if FORMATS[suffix] == 'parquet':
        try:
            import pyarrow  # noqa: F401 - pandas' Parquet engine
        except ImportError:
            raise UserError(f'{flag} {path}: Parquet needs pyarrow (pip install pyarrow); '
                            'or use .csv or .jsonl.') from None
    return FORMATS[suffix]


def _cell_values(column, record, min_confidence):
    """This column's output cells for one journal record (None where there is no value)."""
    if record is None or 'error' in record:
        return None
    extras = record.get('extras') or {}
    if column.task == 'describe':
        confidence = extras.get('confidence')
        return [extras.get('description'), confidence,
                None if confidence is None else bool(confidence < min_confidence)]
    return [record['score']] + list(extras.values())


def table_records(run, min_confidence, kept=None):
    """The table of ``run`` (``engine.ScoreRun``) as one dict per row, rows in key order, keys in
    column order (plain Python: writing CSV or JSON lines needs no pandas, which costs a second to
    import). ``kept``: {row key: {column: value}}, an input CSV's other columns, placed after path/ref
    (a name that a score column also has is the score's)."""
    records = [{'path': row.path, **({'ref': row.ref} if any(r.ref for r in run.rows) else {}),
                **((kept or {}).get(row.key) or {})} for row in run.rows]
    errors = [{} for _ in run.rows]  # per row: message -> labels of the columns it stopped
    for column in run.columns:
        found = run.records.get(column.id, {})
        looked_up = [found.get(column.row_key(row.key)) for row in run.rows]
        extras = list(dict.fromkeys(name for r in looked_up if r and 'error' not in r for name in r.get('extras') or {}))
        header = column.header(extras)
        for record, journal_record, row_errors in zip(records, looked_up, errors):
            cells = _cell_values(column, journal_record, min_confidence)
            record.update(zip(header, cells if cells is not None else [None] * len(header)))
            message = 'not scored' if journal_record is None else journal_record.get('error')
            if message:
                row_errors.setdefault(message, []).append(column.spec.label)
    for record, row_errors in zip(records, errors):
        record['error'] = _error_text(row_errors, len(run.columns))
    return records


def build_table(run, min_confidence):
    """``table_records`` as a pandas DataFrame."""
    import pandas as pd

    records = table_records(run, min_confidence)
    return pd.DataFrame.from_records(records, columns=list(records[0]) if records else None)


def _error_text(row_errors, column_count):
    """One message once when every column failed alike (an unreadable image), else per column."""
    if len(row_errors) == 1 and len(next(iter(row_errors.values()))) == column_count:
        return next(iter(row_errors))
    return '; '.join(f'{", ".join(labels)}: {message}' for message, labels in row_errors.items())


def write_table(records, path):
    """Write ``records`` (``table_records``, or a DataFrame) as the file name says, atomically."""
    import csv
    import json

    if not isinstance(records, list):  # a DataFrame: its NaN cells are empty ones
        records = [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
                   for r in records.to_dict('records')]
    kind = table_format(path)
    names = list(records[0]) if records else ['path', 'error']
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if kind == 'csv':
        with atomic_write(path, 'w', encoding='utf-8', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=names)
            writer.writeheader()
            writer.writerows(records)
    elif kind == 'jsonl':
        with atomic_write(path, 'w', encoding='utf-8') as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + '\n' for r in records)
    else:
        import pyarrow
        import pyarrow.parquet

        with atomic_write(path, 'wb') as f:
            pyarrow.parquet.write_table(pyarrow.Table.from_pylist(records), f)


def read_table(path):
    import pandas as pd

    kind = table_format(path, '--merge')
    try:
        if kind == 'csv':
            table = pd.read_csv(path, dtype={name: str for name in TEXT_COLUMNS}, keep_default_na=False,
                                na_values={''})
        elif kind == 'jsonl':
            table = pd.read_json(path, orient='records', lines=True, dtype={name: str for name in TEXT_COLUMNS})
        else:
            table = pd.read_parquet(path)
    except FileNotFoundError:
        raise UserError(f'{path}: no such table.') from None
    except (ValueError, OSError) as err:
        raise UserError(f'{path}: not a readable {kind} table ({type(err).__name__}: {err}).') from None
    if 'path' not in table.columns:
        raise UserError(f'{path}: not a score table (it has no path column).')
    for name in TEXT_COLUMNS:
        if name in table.columns:
            table[name] = table[name].fillna('').astype(str)
    return table


def merge_tables(tables, sources):
    """One table from shard tables: rows concatenated and sorted; a row in two shards is refused."""
    import pandas as pd

    merged = pd.concat(tables, ignore_index=True, sort=False)
    keys = ['path', 'ref'] if 'ref' in merged.columns else ['path']
    if 'ref' in merged.columns:
        merged['ref'] = merged['ref'].fillna('')
    twice = merged[merged.duplicated(keys, keep=False)]
    if len(twice):
        raise UserError(f'--merge: {len(twice.drop_duplicates(keys))} row(s) appear in more than one of '
                        f'{", ".join(map(str, sources))} (e.g. {twice.iloc[0]["path"]}): were two shards run '
                        'with the same --shard, or the same table given twice?')
    merged['error'] = merged['error'].fillna('') if 'error' in merged.columns else ''
    ordered = [c for c in merged.columns if c != 'error'] + ['error']
    return merged[ordered].sort_values(keys, kind='stable').reset_index(drop=True)
