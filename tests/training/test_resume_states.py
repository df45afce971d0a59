"""Resume never meets a torn save: ours are atomic, and a torn state left by another writer is skipped."""
import torch

from pyiqa_uniqa.training.resume import latest_state_file


def _run(tmp_path):
    root = tmp_path / 'experiments' / 'run'
    (root / 'training_states').mkdir(parents=True)
    (root / 'models').mkdir()
    return {'root_path': str(tmp_path), 'name': 'run'}, root


def _state(root, iteration, weights=True):
    torch.save({'epoch': 0, 'iter': iteration, 'optimizers': [], 'schedulers': []},
               root / 'training_states' / f'{iteration}.state')
    if weights:
        torch.save({'params': {}}, root / 'models' / f'net_{iteration}.pth')


def test_the_newest_whole_state_with_its_weights_is_chosen(tmp_path, caplog):
    opt, root = _run(tmp_path)
    _state(root, 10)
    _state(root, 20)
    _state(root, 30, weights=False)  # its weights were deleted or never written
    (root / 'training_states' / '40.state').write_bytes(b'')  # a kill while writing
    torn = (root / 'training_states' / '20.state').read_bytes()
    (root / 'training_states' / '50.state').write_bytes(torn[:len(torn) // 2])
    assert latest_state_file(opt) == root / 'training_states' / '20.state'
    skipped = ' '.join(caplog.messages)
    assert '50.state' in skipped and '40.state' in skipped and '30.state' in skipped


def test_no_state_at_all(tmp_path):
    opt, root = _run(tmp_path)
    (root / 'training_states' / '5.state').write_bytes(b'\x00' * 10)
    assert latest_state_file(opt) is None
