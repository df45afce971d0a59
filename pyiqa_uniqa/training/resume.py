"""Resume that works on CPU, restores the network weights and never unpickles objects.

pyiqa 0.1.16's ``load_resume_state`` calls ``torch.cuda.current_device()`` (crashes without a GPU),
loads the state with a full unpickler, and re-points weights only for option keys named
``network_*``, so a ``GeneralIQAModel`` (key ``network``) resumes its optimizer but restarts from
the initial weights. This replacement loads the state safely (``weights.read_checkpoint``:
tensors and plain containers; the optimizer moves its state to its parameters' device itself)
and points ``path.pretrain_network`` at the checkpoint saved at the same iteration, which the
model loads strictly in its constructor.
"""
import logging
from pathlib import Path

from pyiqa_uniqa.weights import CorruptWeightsError, WeightsNotFoundError, read_checkpoint

logger = logging.getLogger('pyiqa_uniqa')


STATE_KEYS = ('iter', 'epoch', 'optimizers', 'schedulers')


class StateWeightsMissingError(WeightsNotFoundError):
    """A training state whose network weights (``models/net_<iter>.pth``) are not beside it."""


def latest_state_file(opt):
    """The newest training state that is whole and has its network weights beside it.

    A run killed while pyiqa's own ``GeneralIQAModel`` was saving (its saves are not atomic; ours
    are) can leave a torn newest state: that one is skipped with a warning, and the run resumes
    from the one before.
    """
    latest = _latest_state(opt)
    return latest[0] if latest else None


def _latest_state(opt):
    """``(path, state, weights)`` of the newest usable training state, or None."""
    states_dir = Path(opt['root_path']) / 'experiments' / opt['name'] / 'training_states'
    states = sorted(states_dir.glob('*.state'), key=lambda p: int(p.stem)) if states_dir.is_dir() else []
    for state_path in reversed(states):
        try:
            return (state_path, *_read_state(state_path))
        except (CorruptWeightsError, WeightsNotFoundError) as err:
            logger.warning(f'Not resuming from {state_path}: {err} Trying the one before.')
    return None


def _read_state(state_path):
    """A training state (optimizer/scheduler dicts; MultiStepRestartLR's Counter is allowed) and the
    network weights saved at its iteration; an error naming what is wrong with either."""
    state = read_checkpoint(state_path)
    if not isinstance(state, dict) or not set(STATE_KEYS) <= set(state):
        raise CorruptWeightsError(f'{state_path} is not a pyiqa training state (expected {", ".join(STATE_KEYS)}).')
    weights = state_path.parent.parent / 'models' / f'net_{state["iter"]}.pth'
    if not weights.is_file():
        raise StateWeightsMissingError(f'the network weights of iteration {state["iter"]} ({weights}) are missing.')
    return state, weights


def load_resume_state(opt):
    latest = _latest_state(opt) if opt.get('auto_resume') else None
    if latest is not None:
        state_path, state, weights = latest  # read once: the scan already loaded and checked it
    elif opt['path'].get('resume_state'):
        state_path = Path(opt['path']['resume_state'])
        try:
            state, weights = _read_state(state_path)
        except StateWeightsMissingError as err:
            raise StateWeightsMissingError(f'Cannot resume from {state_path}: {err}') from None
    else:
        return None
    opt['path']['resume_state'] = str(state_path)
    opt['path']['pretrain_network'] = str(weights)
    opt['path']['strict_load'] = True
    logger.info(f'Resuming from {state_path} with network weights {weights}.')
    return state
