"""The one training step of FrozenBackboneIQAModel: accumulation, no_sync, clipping, precision."""
import contextlib
import copy
from pathlib import Path

import pytest
import torch
from pyiqa.models import build_model

from pyiqa_uniqa.backbones.precision import PrecisionError
from pyiqa_uniqa.training.measurement import recipe_options

RECIPE = Path(__file__).with_name('tiny_train.yml')


def tiny_model(tmp_path, **train):
    opt = recipe_options(RECIPE, tmp_path / 'experiment')
    opt['train'].update({'optim': {'type': 'SGD', 'lr': 0.5}, **train})
    torch.manual_seed(0)
    return build_model(opt)


def batch(seed, size):
    generator = torch.Generator().manual_seed(seed)
    return {'img': torch.rand(size, 3, 48, 48, generator=generator),
            'mos_label': torch.rand(size, 1, generator=generator)}


def head(model):
    return {k: v.clone() for k, v in model.get_bare_model(model.net).head.state_dict().items()}


def test_accumulated_iterations_step_once_like_one_large_batch(tmp_path):
    whole = tiny_model(tmp_path)
    data = batch(0, 4)
    whole.feed_data(data)
    whole.optimize_parameters(1)

    accumulated = tiny_model(tmp_path, accumulate_grad_batches=2)
    start = head(accumulated)
    accumulated.feed_data({k: v[:2] for k, v in data.items()})
    accumulated.optimize_parameters(1)
    assert all(torch.equal(start[k], v) for k, v in head(accumulated).items())  # no step yet
    accumulated.feed_data({k: v[2:] for k, v in data.items()})
    accumulated.optimize_parameters(2)
    for name, value in head(accumulated).items():
        assert not torch.equal(value, start[name])
        assert torch.allclose(value, head(whole)[name], atol=1e-6)  # mean of halves = mean of the whole
    assert set(accumulated.log_dict) == {'l_mos', 'train_metrics/srcc'}


class RecordingDDP(torch.nn.Module):
    """Stands in for DistributedDataParallel: records when gradient sync is skipped."""

    def __init__(self, module):
        super().__init__()
        self.module, self.skipped = module, []

    def forward(self, *args):
        return self.module(*args)

    @contextlib.contextmanager
    def no_sync(self):
        self.skipped.append(True)
        yield


def test_iterations_that_do_not_step_skip_the_gradient_all_reduce(tmp_path):
    model = tiny_model(tmp_path, accumulate_grad_batches=3)
    model.net = RecordingDDP(model.net)
    steps = []
    for iteration in range(1, 7):
        before = len(model.net.skipped)
        model.feed_data(batch(iteration, 2))
        model.optimize_parameters(iteration)
        steps.append(len(model.net.skipped) == before)  # synced: the step's iteration
    assert steps == [False, False, True, False, False, True]


def test_gradients_are_clipped_to_the_norm(tmp_path):
    model = tiny_model(tmp_path, grad_clip_norm=1e-3)
    start = head(model)
    model.feed_data(batch(0, 4))
    model.optimize_parameters(1)
    moved = torch.cat([(v - start[k]).flatten() for k, v in head(model).items()]).norm()
    assert 0 < moved <= 0.5 * 1e-3 + 1e-9  # SGD: lr x clipped gradient norm


def test_bf16_step_on_cpu_autocasts_the_forward_keeps_fp32_parameters(tmp_path):
    model = tiny_model(tmp_path, precision='bf16')
    assert model.precision == 'bf16' and not model.scaler.is_enabled()
    dtypes = []
    model.get_bare_model(model.net).head.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    model.feed_data(batch(0, 4))
    model.optimize_parameters(1)
    assert dtypes == [torch.bfloat16]
    assert all(p.dtype == torch.float32 for p in model.get_bare_model(model.net).parameters())
    assert torch.isfinite(torch.tensor(model.log_dict['l_mos']))


def test_fp16_uses_a_gradient_scaler_and_auto_is_fp32_on_cpu(tmp_path):
    assert tiny_model(tmp_path, precision='fp16').scaler.is_enabled()
    auto = tiny_model(tmp_path)
    assert auto.precision == 'fp32' and not auto.scaler.is_enabled()


@pytest.mark.parametrize('train, error, match', [
    ({'accumulate_grad_batches': 0}, ValueError, 'accumulate_grad_batches must be a whole number >= 1'),
    ({'accumulate_grad_batches': 1.5}, ValueError, 'accumulate_grad_batches'),
    ({'precision': 'amp'}, PrecisionError, "train.precision must be one of fp32, fp16, bf16, not 'amp'"),
])
def test_bad_step_options_are_named(tmp_path, train, error, match):
    with pytest.raises(error, match=match):
        tiny_model(tmp_path, **train)


def test_the_option_check_knows_the_step_options():
    from pyiqa_uniqa.training.option_check import unknown_keys
    opt = copy.deepcopy({'model_type': 'DepictQAModel', 'train': {'grad_clip_norm': 1, 'precision': 'auto',
                                                                  'accumulate_grad_batches': 2, 'grad_clip': 1},
                         'val': {'batch_size': 4, 'feature_cache': True, 'feature_cache_mib': 10}})
    import pyiqa_uniqa.depictqa.model  # noqa: F401 - registers DepictQAModel
    assert unknown_keys(opt) == ['train.grad_clip']  # the subclass's keys and the base's merge


def test_the_fp16_loss_scale_survives_a_save_and_resume(tmp_path):
    from pyiqa_uniqa.weights import read_checkpoint
    model = tiny_model(tmp_path, precision='fp16')
    model.scaler.load_state_dict({**model.scaler.state_dict(), 'scale': 1024.0})  # as found by a long run
    Path(model.opt['path']['training_states']).mkdir(parents=True, exist_ok=True)
    model.save_training_state(epoch=0, current_iter=7)
    state = read_checkpoint(Path(model.opt['path']['training_states']) / '7.state')
    assert state['iter'] == 7 and state['grad_scaler']['scale'] == 1024.0

    resumed = tiny_model(tmp_path / 'resumed', precision='fp16')
    assert resumed.scaler.get_scale() != 1024.0
    resumed.resume_training(state)
    assert resumed.scaler.get_scale() == 1024.0
