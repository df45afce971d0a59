"""rank, compare, score --describe and the metric-as-loss example, on tiny models."""
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import spec_text
from PIL import Image

from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.apps.scoring.rank import pair_schedule
from pyiqa_uniqa.apps.scoring.statistics import bootstrap, mean_difference, ranks, win_rates

DEPICTQA_FR = 'depictqa-fr:model_config=tiny'


def test_the_pair_schedule_holds_every_pair_in_both_orders():
    schedule = pair_schedule(['a', 'b', 'c'])
    assert sorted(schedule) == [('a', 'b'), ('a', 'c'), ('b', 'a'), ('b', 'c'), ('c', 'a'), ('c', 'b')]
    assert len(pair_schedule(list('abcd'))) == 12


def test_win_rates_follow_the_confidence_weighted_vote_worked_by_hand():
    verdicts = [('a', 'b', 'Image A', 0.8),  # a .8, b .2
                ('b', 'a', 'Image B', 0.6),  # a .6, b .4
                ('a', 'c', 'Image B', 0.7),  # a .3, c .7
                ('c', 'a', 'Image A', 0.9),  # c .9, a .1
                ('b', 'c', 'Image A', 1.0),  # b 1, c 0
                ('c', 'b', 'Image A', None)]  # no confidence: a hard vote, c 1, b 0
    rates = win_rates(['a', 'b', 'c', 'd'], verdicts)
    assert rates['a'] == pytest.approx(0.45) and rates['b'] == pytest.approx(0.4) and rates['c'] == pytest.approx(0.65)
    assert np.isnan(rates['d'])
    assert ranks([rates[c] for c in 'abcd']).tolist()[:3] == [2.0, 3.0, 1.0]


def test_ties_share_their_ranks_and_missing_values_are_not_ranked():
    got = ranks([0.5, 0.7, 0.5, np.nan])
    assert got[:3].tolist() == [2.5, 1.0, 2.5] and np.isnan(got[3])
    assert ranks([3.0, 1.0, 2.0], lower_better=True).tolist() == [3.0, 1.0, 2.0]


def test_intervals_are_reproducible_with_a_seed_and_pairing_narrows_them():
    rng = np.random.default_rng(3)
    items = rng.normal(0, 5, 40)  # large spread between items
    first, second = items + 0.3 + rng.normal(0, 0.1, 40), items
    one, again, other = (bootstrap(first, seed=s) for s in (7, 7, 8))
    assert (one.low, one.high) == (again.low, again.high) and (one.low, one.high) != (other.low, other.high)
    assert one.low < np.mean(first) < one.high
    paired, unpaired = mean_difference(first, second, True, seed=1), mean_difference(first, second, False, seed=1)
    assert paired.estimate == pytest.approx(unpaired.estimate) == pytest.approx(np.mean(first - second))
    assert paired.excludes_zero and not unpaired.excludes_zero
    assert paired.high - paired.low < (unpaired.high - unpaired.low) / 10


@pytest.fixture(scope='module')
def processed(photo_pairs, tmp_path_factory):
    """Three 'processing models' over the same scenes; model_c lacks one scene and has a broken file;
    model_b's im1 is the same file as model_a's (a tie)."""
    root = tmp_path_factory.mktemp('processed')
    ref = photo_pairs / 'ref'
    rng = np.random.default_rng(5)
    for model, noise in (('model_a', 4), ('model_b', 12), ('model_c', 30)):
        for name in ('im0.png', 'im1.png', 'im2.png'):
            if model == 'model_c' and name == 'im2.png':
                continue
            clean = np.asarray(Image.open(ref / name).convert('RGB')).astype(int)
            noisy = np.clip(clean + rng.integers(-noise, noise + 1, clean.shape), 0, 255).astype(np.uint8)
            (root / model).mkdir(exist_ok=True)
            Image.fromarray(noisy).save(root / model / name)
    shutil.copy(root / 'model_a' / 'im1.png', root / 'model_b' / 'im1.png')
    (root / 'model_c' / 'im0.png').write_bytes(b'broken')
    (root / 'model_a' / 'only_here.png').write_bytes((root / 'model_a' / 'im0.png').read_bytes())
    return root, ref


def test_rank_with_a_score_metric_sorts_scores_per_scene_and_ranks_the_models(processed, tmp_path):
    root, ref = processed
    out = tmp_path / 'rank'
    assert main(['rank', *(str(root / m) for m in ('model_a', 'model_b', 'model_c')), '-m', 'psnr', '--ref', str(ref),
                 '--out', str(out), '--no-progress']) == 0
    table = pd.read_csv(out / 'ranking.csv').fillna({'problem': ''})
    assert sorted(set(table['scene'])) == ['im0.png', 'im1.png', 'im2.png']  # only_here.png: one candidate
    scene = table[table.scene == 'im0.png'].set_index('candidate')
    assert scene.loc['model_a', 'rank'] == 1 and scene.loc['model_b', 'rank'] == 2
    assert np.isnan(scene.loc['model_c', 'rank']) and 'model_c/im0.png' in scene.loc['model_c', 'problem']
    tie = table[table.scene == 'im1.png'].set_index('candidate')
    assert tie.loc['model_a', 'rank'] == tie.loc['model_b', 'rank'] == 1.5 and tie.loc['model_c', 'rank'] == 3
    assert set(table[table.scene == 'im2.png']['candidate']) == {'model_a', 'model_b'}
    models = pd.read_csv(out / 'models.csv').set_index('model')
    assert models.loc['model_a', 'mean_rank'] == pytest.approx((1 + 1.5 + 1) / 3)
    assert models.loc['model_c', 'scenes'] == 1 and models.loc['model_c', 'win_rate'] == 0
    assert models.loc['model_a', 'win_rate'] == pytest.approx((1 + 0.75 + 1) / 3)


def test_rank_with_depictqa_compares_every_pair_in_both_orders(processed, tmp_path):
    root, ref = processed
    out = tmp_path / 'rank'
    assert main(['rank', *(str(root / m) for m in ('model_a', 'model_b', 'model_c')), '-m', DEPICTQA_FR,
                 '--ref', str(ref), '--out', str(out), '--no-progress']) == 0
    pairs = pd.read_csv(out / 'pairs.csv')
    expected = {'im0.png': pair_schedule(['model_a', 'model_b']),  # model_c's file is broken
                'im1.png': pair_schedule(['model_a', 'model_b', 'model_c']),
                'im2.png': pair_schedule(['model_a', 'model_b'])}
    for scene, schedule in expected.items():
        got = pairs[pairs.scene == scene]
        assert sorted(zip(got['first'], got['second'])) == sorted(schedule)
    assert set(pairs['verdict']) <= {'Image A', 'Image B'}
    assert (pairs['vote_first'] + pairs['vote_second']).tolist() == pytest.approx([1.0] * len(pairs))
    table = pd.read_csv(out / 'ranking.csv')
    for scene, group in table.groupby('scene'):
        votes = pairs[pairs.scene == scene]
        for candidate, win_rate in zip(group['candidate'], group['win rate']):
            mine = pd.concat([votes[votes['first'] == candidate]['vote_first'],
                              votes[votes['second'] == candidate]['vote_second']])
            assert win_rate == pytest.approx(mine.mean()) if len(mine) else np.isnan(win_rate)
    assert (out / 'models.csv').is_file()


def test_compare_reports_means_intervals_and_differences_from_the_scores(processed, tiny_specs, tmp_path):
    root, _ = processed
    out = tmp_path / 'cmp'
    uniqa = spec_text(*tiny_specs['uniqa'])
    argv = ['compare', str(root / 'model_a'), str(root / 'model_b'), '-m', 'piqe', uniqa, '--out', str(out),
            '--seed', '3', '--no-progress', '--num-workers', '0']
    assert main(argv) == 0
    scores = pd.read_csv(out / 'scores.csv', keep_default_na=False)
    summary = pd.read_csv(out / 'summary.csv')
    for row in summary.itertuples():
        values = scores[(scores.folder == row.folder) & (scores[row.metric] != '')][row.metric].astype(float)
        assert row.images == len(values) == {'model_a': 4, 'model_b': 3}[row.folder]
        assert row.mean == pytest.approx(values.mean())
        assert row.mean_low <= row.mean <= row.mean_high
    differences = pd.read_csv(out / 'differences.csv')
    assert len(differences) == 2 and not differences['paired'].any()  # model_a has one more file
    piqe = summary[summary.metric == 'piqe'].set_index('folder')['mean']
    assert differences.set_index('metric').loc['piqe', 'difference'] == pytest.approx(piqe['model_a'] - piqe['model_b'])
    assert (out / 'distributions.png').stat().st_size > 1000
    journal = (out / 'journal' / 'main.jsonl').read_text()
    assert main(argv) == 0  # rerun: everything comes from the journal
    assert (out / 'journal' / 'main.jsonl').read_text() == journal
    assert pd.read_csv(out / 'summary.csv').equals(summary)


def test_score_describe_adds_descriptions_and_flags_low_confidence(photo_pairs, tmp_path):
    images = photo_pairs / 'dist'
    tables = {}
    for threshold in ('0', '1'):
        out = tmp_path / f'describe{threshold}.csv'
        assert main(['score', '-m', 'depictqa:model_config=tiny', '--describe', '--min-confidence', threshold,
                     '--images', f'{images}/im[0-2].png', '--out', str(out), '--num-workers', '0', '--no-progress']) == 0
        tables[threshold] = pd.read_csv(out, keep_default_na=False)
    table = tables['0']
    assert {'depictqa', 'depictqa.description', 'depictqa.confidence', 'depictqa.low_confidence'} <= set(table.columns)
    assert len(table) == 3 and all(isinstance(t, str) for t in table['depictqa.description'])
    confidence = table['depictqa.confidence'].astype(float)
    assert ((confidence >= 0) & (confidence <= 1)).all()
    assert not table['depictqa.low_confidence'].astype(bool).any()
    assert tables['1']['depictqa.low_confidence'].astype(bool).all()
    # the threshold is applied when the table is written: the second run scored nothing again
    assert tables['1']['depictqa.description'].tolist() == table['depictqa.description'].tolist()


def test_the_metric_as_loss_example_raises_the_score(tmp_path):
    from pyiqa_uniqa.apps.scoring.metric_as_loss import run_demo

    result = run_demo(out=tmp_path, pixel_steps=8, train_steps=12, progress=False)
    assert result.pixel_score_after > result.pixel_score_before + 0.01
    assert result.held_out_after > result.held_out_before
    assert (tmp_path / 'before_after.png').is_file() and (tmp_path / 'metric_as_loss.json').is_file()


def test_metric_as_loss_refuses_a_metric_without_a_gradient_before_optimising(tmp_path, monkeypatch, capsys):
    from pyiqa_uniqa.apps.scoring import metric_as_loss

    monkeypatch.setattr(metric_as_loss, 'improve_pixels', lambda *a: pytest.fail('optimised a gradient-free metric'))
    with pytest.raises(SystemExit) as exit_info:
        metric_as_loss.main(['-m', 'piqe', '--out', str(tmp_path / 'out')])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert '-m piqe: the metric gives no gradient to the pixels' in err and 'Traceback' not in err
    assert not (tmp_path / 'out').exists()
