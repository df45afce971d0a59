"""``train_in_process`` reports pyiqa's own loop to its callbacks: progress, validation numbers, stop."""
from pathlib import Path
from types import SimpleNamespace

from pyiqa_uniqa.training.pipeline import TrainingCallbacks, train_in_process

RECIPE = Path(__file__).with_name('tiny_train.yml')


class Recorder(TrainingCallbacks):
    def __init__(self, stop_after):
        self.stop_after, self.events = stop_after, []

    def started(self, model, total_iters):
        self.events.append(('started', total_iters))

    def iteration_done(self, model, iteration):
        self.events.append(('iteration', iteration, sorted(model.get_current_log())))

    def validated(self, model, iteration, dataset, results):
        self.events.append(('validated', iteration, dataset, sorted(results)))

    def should_stop(self):
        return sum(event[0] == 'iteration' for event in self.events) >= self.stop_after


def test_the_loop_reports_progress_and_validation_and_stops_when_asked(tmp_path):
    photos = tmp_path / 'photos'
    args = SimpleNamespace(opt=str(RECIPE), auto_resume=False, debug=False, launcher='none', local_rank=0,
                           strict_options=False, force_yml=[f'datasets:train:dataroot_target={photos}',
                                                            f'datasets:val:dataroot_target={photos}',
                                                            'val:val_freq=2'])
    recorder = Recorder(stop_after=5)
    train_in_process(args, recorder, root=tmp_path / 'root')
    events = recorder.events
    assert events[0] == ('started', 40)
    assert [e[1] for e in events if e[0] == 'iteration'] == [1, 2, 3, 4, 5]  # stopped after the fifth
    assert all(e[2] == ['l_mos', 'train_metrics/srcc'] for e in events if e[0] == 'iteration')
    assert [e[1:] for e in events if e[0] == 'validated'] == [(2, 'photos_val', ['srcc']), (4, 'photos_val', ['srcc'])]
    assert events.index(('validated', 2, 'photos_val', ['srcc'])) == 3  # right after iteration 2
    # a stopped run has started: its experiment folder (log, checkpoints) is kept
    assert (tmp_path / 'root' / 'experiments' / 'tiny_train').is_dir()
