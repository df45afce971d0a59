"""Both selection rules, from pyiqa's tensorboard record of every validation."""
import math

import pytest

from pyiqa_uniqa.apps.protocol.units import (
    BEST_ON_TEST,
    HONEST,
    select,
    validation_history,
)

# val peaks at iteration 20; test at 30; the cross set at 10
HISTORY = {
    'val': [{'iter': 10, 'srcc': 0.5, 'plcc': 0.5}, {'iter': 20, 'srcc': 0.7, 'plcc': 0.6},
            {'iter': 30, 'srcc': 0.6, 'plcc': 0.6}],
    'test': [{'iter': 10, 'srcc': 0.4, 'plcc': 0.45}, {'iter': 20, 'srcc': 0.6, 'plcc': 0.62},
             {'iter': 30, 'srcc': 0.8, 'plcc': 0.79}],
    'cross-b': [{'iter': 10, 'srcc': 0.3, 'plcc': 0.31}, {'iter': 20, 'srcc': 0.2, 'plcc': 0.22},
                {'iter': 30, 'srcc': math.nan, 'plcc': math.nan}],
}


def test_honest_rule_reports_every_set_at_the_checkpoint_best_on_val(tmp_path):
    models = tmp_path / 'experiments' / 'run' / 'models'
    models.mkdir(parents=True)
    (models / 'net_20.pth').write_bytes(b'')
    selected = select(HISTORY, ['test', 'cross-b'], tmp_path)
    honest = selected[HONEST]
    assert honest['iter'] == 20 and honest['checkpoint'] == 'experiments/run/models/net_20.pth'
    assert honest['columns'] == {'test': HISTORY['test'][1], 'cross-b': HISTORY['cross-b'][1]}
    # the papers' way: each tested set at its own best, never NaN
    assert selected[BEST_ON_TEST]['columns'] == {'test': HISTORY['test'][2], 'cross-b': HISTORY['cross-b'][0]}


def test_ties_go_to_the_later_validation_and_the_final_one_is_net_latest(tmp_path):
    history = {'val': [{'iter': 5, 'srcc': 0.5, 'plcc': 0.1}, {'iter': 9, 'srcc': 0.5, 'plcc': 0.2}],
               'test': [{'iter': 5, 'srcc': 0.1, 'plcc': 0.1}, {'iter': 9, 'srcc': 0.2, 'plcc': 0.2}]}
    honest = select(history, ['test'], tmp_path)[HONEST]
    assert honest['iter'] == 9 and honest['checkpoint'].endswith('net_latest.pth')


def test_a_unit_whose_val_part_was_never_validated_is_an_error(tmp_path):
    with pytest.raises(ValueError, match='never validated'):
        select({'test': HISTORY['test']}, ['test'], tmp_path)


def test_history_is_read_from_pyiqa_tensorboard_tags(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / 'tb_logger' / 'run'))
    for step, value in ((4, 0.25), (8, 0.5)):
        writer.add_scalar('val_metrics/val/srcc', value, step)  # as pyiqa's _log_validation_metric_values
        writer.add_scalar('val_metrics/val/plcc', value / 2, step)
        writer.add_scalar('val_metrics/cross-photos-b/srcc', -value, step)
    writer.add_scalar('losses/l_mos', 1.0, 8)  # not a validation
    writer.close()
    history = validation_history(tmp_path)
    assert history == {'val': [{'iter': 4, 'srcc': 0.25, 'plcc': 0.125}, {'iter': 8, 'srcc': 0.5, 'plcc': 0.25}],
                       'cross-photos-b': [{'iter': 4, 'srcc': -0.25}, {'iter': 8, 'srcc': -0.5}]}
