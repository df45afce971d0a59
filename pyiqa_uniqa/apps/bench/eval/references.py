"""Published numbers to print next to ours, read from ``reference_results.csv`` (shipped data).

Columns: ``method`` (as the paper names it), ``metrics`` (space-separated pyiqa metric names the row
applies to; empty when no shipped metric reproduces that setting), ``dataset`` (pyiqa dataset
name), ``srcc``, ``plcc`` (empty when not published), ``setting`` (protocol) and ``source``.
A user can pass their own file of the same shape with ``--references``.
"""
import csv
from dataclasses import dataclass
from pathlib import Path

DEFAULT_REFERENCES = Path(__file__).with_name('reference_results.csv')


@dataclass
class Reference:
    method: str
    metrics: tuple
    dataset: str
    srcc: float
    plcc: float
    setting: str
    source: str


def _number(text):
    return float(text) if text and text.strip() else float('nan')


def load_references(path=DEFAULT_REFERENCES):
    with open(path, newline='', encoding='utf-8') as f:
        return [Reference(row['method'], tuple(row['metrics'].split()), row['dataset'],
                          _number(row['srcc']), _number(row['plcc']), row['setting'], row['source'])
                for row in csv.DictReader(f)]


def find_reference(references, metric_names, dataset):
    """The first row for ``dataset`` that lists any of ``metric_names`` (label or pyiqa name)."""
    for ref in references:
        if ref.dataset == dataset and any(name in ref.metrics for name in metric_names):
            return ref
    return None
