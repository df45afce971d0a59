"""`pyiqa-uniqa eval` end to end on the scikit-image photo dataset, checked against scipy.

The metrics are a built-in FR metric (psnr), a built-in lower-better NR metric (piqe, which checks
the sign convention) and the plugin's UniQA with the tiny random backbone. Each score is recomputed
here image by image with pyiqa.create_metric, and every figure of the report is recomputed from
those scores with scipy.
"""
import csv
import pickle
import warnings

import numpy as np
import pyiqa
import pytest
import torch
import yaml
from PIL import Image
from scipy import stats
from scipy.optimize import OptimizeWarning, curve_fit

from pyiqa_uniqa.apps.cli import main

SPLITS = {1: [0, 2, 4, 5, 7, 9, 11, 13, 15, 17], 2: [1, 3, 6, 8, 10, 12, 14, 16], 3: list(range(0, 18, 2))}


@pytest.fixture(scope='module')
def run(tmp_path_factory, tiny_clip_checkpoint):
    tmp = tmp_path_factory.mktemp('eval')
    data_opt = tmp / 'datasets.yml'
    data_opt.write_text(yaml.safe_dump({'photos-tiny': {
        'type': 'PhotoDistortionFRDataset', 'dataroot_target': str(tmp / 'photos'), 'split_file': None,
        'build_opts': {'photos': ['astronaut', 'coffee', 'chelsea'], 'distortions': ['blur', 'noise'],
                       'levels': [1, 3, 5], 'size': 48}}}))
    split_file = tmp / 'splits.pkl'
    split_file.write_bytes(pickle.dumps({k: {'train': [], 'test': rows} for k, rows in SPLITS.items()}))
    uniqa = f'uniqa:model_name=tiny-clip-quickgelu,num_crops=2,backbone_weights={tiny_clip_checkpoint}'
    argv = ['eval', '-m', 'psnr', 'piqe', uniqa, 'uniqa-level', '-d', 'photos-tiny', 'koniq10k',
            '--data-opt', str(data_opt), '--data-root', str(tmp / 'no_datasets'), '--split-file', str(split_file),
            '--split-index', 'all', '--out', str(tmp / 'out'), '--device', 'cpu', '--batch-size', '4', '--offline']
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('TORCH_HOME', str(tmp / 'torch_home'))  # no cached UniQA_weight.pt can be found
        mp.delenv('UNIQA_WEIGHTS', raising=False)
        assert main(argv) == 0
    return {'out': tmp / 'out', 'argv': argv, 'root': tmp / 'photos', 'uniqa_options': {
        'model_name': 'tiny-clip-quickgelu', 'num_crops': 2, 'backbone_weights': str(tiny_clip_checkpoint)}}


def _rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def _direct_scores(root, metric):
    """Score every distorted image on its own (batch of one) straight from the files."""
    def load(name):
        return torch.from_numpy(np.array(Image.open(root / name).convert('RGB'))).permute(2, 0, 1)[None].float() / 255
    scores, mos = [], []
    for row in _rows(root / 'meta_info.csv'):
        with torch.no_grad():
            args = (load(row['dist_name']), load(row['ref_name'])) if metric.metric_mode == 'FR' else (load(row['dist_name']),)
            scores.append(float(metric(*args).reshape(-1)[0]))
        mos.append(float(row['mos']))
    return np.array(scores), np.array(mos)


def _independent_logistic_fit(pred, mos):
    """A plain (unconstrained, VQEG-initialised) 4-parameter logistic fit: PLCC, RMSE, increasing?"""
    def logistic(x, b1, b2, b3, b4):
        return (b1 - b2) / (1 + np.exp(-(x - b3) / b4)) + b2
    with warnings.catch_warnings(), np.errstate(over='ignore'):
        warnings.simplefilter('ignore', OptimizeWarning)  # a flat fit on a disagreeing split
        params, _ = curve_fit(logistic, pred, mos, p0=[mos.max(), mos.min(), pred.mean(), pred.std() / 4],
                              maxfev=50000)
    with np.errstate(over='ignore'):
        fitted = logistic(pred, *params)
    increasing = (params[0] - params[1]) / params[3] > 0
    return stats.pearsonr(fitted, mos)[0], np.sqrt(np.mean((fitted - mos) ** 2)), increasing


@pytest.mark.parametrize('label, name, sign', [('psnr', 'psnr', 1), ('piqe', 'piqe', -1), ('uniqa', 'uniqa', 1)])
def test_table_matches_scipy_on_directly_computed_scores(run, label, name, sign):
    options = run['uniqa_options'] if name == 'uniqa' else {}
    pred, mos = _direct_scores(run['root'], pyiqa.create_metric(name, device='cpu', **options))
    pred = sign * pred  # piqe is lower-better in pyiqa's config: the table reports agreement
    per_split = {r['split']: r for r in _rows(run['out'] / 'results_per_split.csv')
                 if r['metric'] == label and r['dataset'] == 'photos-tiny'}
    assert sorted(per_split) == ['1', '2', '3']
    expected = {}
    for key, rows in SPLITS.items():
        p, m = pred[rows], mos[rows]
        got = per_split[str(key)]
        assert int(got['images']) == len(rows)
        figures = {'srcc': stats.spearmanr(p, m)[0], 'krcc': stats.kendalltau(p, m)[0], 'plcc_raw': stats.pearsonr(p, m)[0]}
        for figure, value in figures.items():
            assert float(got[figure]) == pytest.approx(value, abs=2e-5), (key, figure)
        plcc, rmse, increasing = _independent_logistic_fit(p, m)
        if increasing:  # the report's fit is restricted to increasing curves: same optimum then
            assert float(got['plcc']) == pytest.approx(plcc, abs=2e-3), key
            assert float(got['rmse']) == pytest.approx(rmse, abs=2e-3), key
        else:  # a disagreeing metric: no flip to a positive PLCC, and no better fit than the free one
            assert float(got['plcc']) <= plcc and float(got['rmse']) >= rmse - 1e-6, key
        expected.setdefault('srcc', []).append(figures['srcc'])
    cell, = [r for r in _rows(run['out'] / 'results.csv') if r['metric'] == label and r['dataset'] == 'photos-tiny']
    assert cell['status'] == 'ok' and int(cell['splits']) == 3
    assert float(cell['srcc']) == pytest.approx(np.mean(expected['srcc']), abs=2e-5)
    assert float(cell['srcc_std']) == pytest.approx(np.std(expected['srcc'], ddof=1), abs=2e-5)


def test_unavailable_cells_are_reported_and_the_run_goes_on(run):
    cells = {(r['metric'], r['dataset']): r for r in _rows(run['out'] / 'results.csv')}
    assert cells[('psnr', 'koniq10k')]['status'] == 'missing dataset'
    assert 'meta_info_KonIQ10kDataset.csv' in cells[('psnr', 'koniq10k')]['message']
    assert cells[('uniqa-level', 'photos-tiny')]['status'] == 'missing weights'
    assert 'UniQA_weight.pt' in cells[('uniqa-level', 'photos-tiny')]['message']
    report = (run['out'] / 'results.md').read_text()
    assert '| psnr | ' in report and 'missing dataset' in report and '## Per split' in report
    # uniqa-level lacks its weights and koniq10k its files: the cell says both, the problems list
    # names each missing thing once (not once per cell), with what to do
    assert '| uniqa-level | missing weights | missing weights, missing dataset |' in report
    problems = report.split('## Problems')[1].split('##')[0].strip().splitlines()
    assert sum('UniQA_weight.pt' in line for line in problems) == 1
    assert sum(line.startswith('- **koniq10k** (missing dataset)') for line in problems) == 1
    assert any('--download' in line for line in problems) and len(problems) == 2
    plots = {p.name for p in (run['out'] / 'plots').iterdir()}
    assert {'scatter_psnr__photos-tiny.png', 'scatter_uniqa__photos-tiny.png', 'bars_photos-tiny.png'} <= plots


def test_a_rerun_reads_the_saved_scores_instead_of_scoring_again(run, monkeypatch):
    before = _rows(run['out'] / 'results_per_split.csv')

    def no_scoring(*args, **kwargs):
        raise AssertionError('a resumed run must not score cached images again')
    monkeypatch.setattr(pyiqa.models.inference_model.InferenceModel, 'forward', no_scoring)
    argv = [a for a in run['argv']]
    argv[argv.index('-m') + 1:argv.index('-d')] = ['psnr']
    assert main(argv) == 0
    after = [r for r in _rows(run['out'] / 'results_per_split.csv')]
    assert [r for r in after if r['metric'] == 'psnr'] == [r for r in before if r['metric'] == 'psnr']
    assert main(argv + ['--no-resume']) == 1  # without the saved scores the patched forward fails every cell


@pytest.mark.parametrize('split_index', ['split', 'all'])
def test_split_columns_select_the_rows_pyiqa_selects(run, split_index):
    from pyiqa_uniqa.apps.bench.eval.datasets import resolve_datasets
    from pyiqa_uniqa.apps.bench.eval.runner import EvalSettings, prepare_dataset

    argv = run['argv']
    spec, = resolve_datasets(['photos-tiny'], argv[argv.index('--data-opt') + 1])
    prepared = prepare_dataset(spec, EvalSettings(out_dir=run['out'], split_index=split_index, phase='test'))
    split, = prepared.splits  # the photo dataset has one split column, named 'split'
    expected = [i for i, row in enumerate(_rows(run['root'] / 'meta_info.csv')) if row['split'] == 'test']
    assert split.label == 'split' and split.indices == expected and len(prepared.dataset) == 18


def test_a_truncated_image_is_left_out_and_named(tmp_path):
    from pyiqa_uniqa.data.photos import load_photos

    rows = []
    for i, (name, photo) in enumerate(load_photos()[:6]):
        Image.fromarray(photo[:96, :96]).save(tmp_path / f'{name}.png')
        rows.append(f'{name}.png,{i}')
    damaged = tmp_path / 'coffee.png'
    damaged.write_bytes(damaged.read_bytes()[:400])
    (tmp_path / 'meta.csv').write_text('img_name,mos\n' + '\n'.join(rows) + '\n')
    (tmp_path / 'data.yml').write_text(yaml.safe_dump({'mine': {
        'type': 'GeneralNRDataset', 'dataroot_target': str(tmp_path), 'meta_info_file': str(tmp_path / 'meta.csv')}}))
    import pyiqa.data.ava_dataset  # noqa: F401 - sets PIL's LOAD_TRUNCATED_IMAGES, as a lookup in pyiqa can
    assert main(['eval', '-m', 'piqe', '--data-opt', str(tmp_path / 'data.yml'), '--out', str(tmp_path / 'out'),
                 '--no-plots', '--device', 'cpu']) == 0
    cell, = _rows(tmp_path / 'out' / 'results.csv')
    assert cell['status'] == 'ok' and cell['images'] == '5'
    assert '1 image(s) could not be read' in cell['message'] and 'truncated' in cell['message']
