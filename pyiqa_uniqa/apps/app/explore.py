"""The Explore tab's work on a table written by ``pyiqa-uniqa score``: its metric columns, a filter,
a histogram per metric, the best and worst rows, one row's details.

A table is read by ``scoring.table.read_table`` (CSV, JSON lines or Parquet). Metric columns are
the numeric ones; "best" follows pyiqa's ``lower_better`` for the metric a column is named after
(``piqe``, ``niqe``, ... are better low) and takes higher as better otherwise.
"""
import math

SHOWN_ROWS = 1000  # rows sent to the browser; sorting and statistics use the whole table


def metric_columns(table):
    """Numeric columns that are metric values (not the bool low-confidence flags)."""
    import pandas as pd
    return [name for name in table.columns
            if pd.api.types.is_numeric_dtype(table[name]) and not pd.api.types.is_bool_dtype(table[name])
            and name not in ('path', 'ref', 'error')]


def lower_better(column):
    """pyiqa's ``lower_better`` for the metric a column is named after (``label`` or ``label.attribute``)."""
    from pyiqa.default_model_configs import DEFAULT_CONFIGS
    return bool(DEFAULT_CONFIGS.get(column, {}).get('lower_better', False))


def filtered(table, text):
    """Rows whose path contains ``text`` (case-insensitive); all rows for an empty text."""
    text = (text or '').strip().lower()
    return table[table['path'].str.lower().str.contains(text, regex=False)] if text else table


def ranked(table, column):
    """``table`` sorted best first by ``column`` (rows without a value last)."""
    return table.sort_values(column, ascending=lower_better(column), na_position='last', kind='stable')


def best_and_worst(table, column, count):
    """(best rows, worst rows) of ``column``, ``count`` each, among rows that have a value."""
    scored = ranked(table[table[column].notna()], column)
    return scored.head(count), scored.tail(count).iloc[::-1]


def histograms(table, columns):
    """A matplotlib figure: one histogram per metric column (None when there is none)."""
    import matplotlib
    matplotlib.use('Agg')  # the server draws off-screen
    import matplotlib.pyplot as plt

    if not columns:
        return None
    per_row = min(3, len(columns))
    rows = math.ceil(len(columns) / per_row)
    figure, axes = plt.subplots(rows, per_row, figsize=(4 * per_row, 2.8 * rows), squeeze=False)
    for axis, column in zip(axes.flat, columns):
        values = table[column].dropna()
        axis.hist(values, bins=min(30, max(5, len(values) // 3 or 1)), color='#f97316')
        axis.set_title(f'{column} ({len(values)} values, {"lower" if lower_better(column) else "higher"} is better)',
                       fontsize=9)
    for axis in list(axes.flat)[len(columns):]:
        axis.axis('off')
    figure.tight_layout()
    plt.close(figure)  # gradio renders it; pyplot must not keep every figure alive
    return figure


def row_details(row):
    """One row as plain JSON values (NaN as None)."""
    return {name: None if isinstance(value, float) and math.isnan(value) else
            value.item() if hasattr(value, 'item') else value
            for name, value in row.items()}
