"""The report puts the paper's numbers beside ours and lists every cell that could not run."""
import numpy as np

from pyiqa_uniqa.apps.bench.eval.correlations import summarise
from pyiqa_uniqa.apps.bench.eval.references import find_reference, load_references
from pyiqa_uniqa.apps.bench.eval.report import markdown_report
from pyiqa_uniqa.apps.bench.eval.runner import CellResult


def test_paper_numbers_sit_next_to_ours_and_problems_are_listed():
    references = load_references()
    per_split = [{'split': str(i), 'n': 100, 'srcc': v, 'plcc': v + 0.01, 'plcc_raw': v, 'krcc': v - 0.2, 'rmse': 5.0}
                 for i, v in enumerate((0.90, 0.92), 1)]
    ok = CellResult('uniqa-koniq', 'koniq10k', 'ok', per_split=per_split, summary=summarise(per_split),
                    pred=np.zeros(150), mos=np.zeros(150),
                    reference=find_reference(references, ('uniqa-koniq', 'uniqa-koniq'), 'koniq10k'))
    missing = CellResult('uniqa-koniq', 'livec', 'missing dataset', 'not found: a|b')
    report = markdown_report([ok, missing])
    assert '| uniqa-koniq | 0.9100 ± 0.0141 / 0.9200 ± 0.0141 (paper 0.933 / 0.941) | missing dataset |' in report
    assert '**uniqa-koniq × livec** (missing dataset): not found: a\\|b' in report
    assert '| uniqa-koniq | koniq10k | 150 | 2 | 0.9100 ± 0.0141 |' in report  # all figures
    assert '| uniqa-koniq | koniq10k | 2 | 100 | 0.9200 |' in report  # per split


def test_reference_rows_match_by_metric_name_and_dataset():
    references = load_references()
    assert find_reference(references, ('uniqa',), 'koniq10k').srcc == 0.806  # UniQA* zero-shot
    assert find_reference(references, ('uniqa-level',), 'livec').srcc == 0.638
    assert find_reference(references, ('topiq_nr',), 'spaq').plcc == 0.874
    assert find_reference(references, ('uniqa',), 'spaq') is None
