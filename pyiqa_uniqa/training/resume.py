"""Resume that works on CPU, restores the network weights and never unpickles objects.

pyiqa 0.1.16's ``load_resume_state`` calls ``torch.cuda.current_device()`` (crashes without a GPU),
loads the state with a full unpickler, and re-points weights only for option keys named
``network_*``, so a ``GeneralIQAModel`` (key ``network``) resumes its optimizer but restarts from
the initial weights. This replacement loads the state safely (``weights.load_state_dict``:
tensors and plain containers; the optimizer moves its state to its parameters' device itself)
and points ``path.pretrain_network`` at the checkpoint saved at the same iteration, which the
model loads strictly in its constructor.
"""
import logging
from pathlib import Path

from pyiqa_uniqa.weights import CorruptWeightsError, WeightsNotFoundError, load_state_dict

logger = logging.getLogger('pyiqa_uniqa')


def latest_state_file(opt):
    """The newest training state that is whole and has its network weights beside it.

    A run killed while pyiqa's own ``GeneralIQAModel`` was saving (its saves are not atomic; ours
    are) can leave a torn newest state: that one is skipped with a warning, and the run resumes
    from the one before.
    """
    states_dir = Path(opt['root_path']) / 'experiments' / opt['name'] / 'training_states'
    states = sorted(states_dir.glob('*.state'), key=lambda p: int(p.stem)) if states_dir.is_dir() else []
    for state_path in reversed(states):
        problem = _state_problem(state_path)
        if not problem:
            return state_path
        logger.warning(f'Not resuming from {state_path}: {problem} Trying the one before.')
    return None


def _state_problem(state_path):
    try:
        state = load_state_dict(state_path)
    except (CorruptWeightsError, WeightsNotFoundError) as err:
        return str(err)
    if not isinstance(state, dict) or 'iter' not in state:
        return 'it is not a pyiqa training state.'
    if not (state_path.parent.parent / 'models' / f'net_{state["iter"]}.pth').is_file():
        return f'the network weights of iteration {state["iter"]} are missing.'
    return ''


def load_resume_state(opt):
    state_path = opt['path'].get('resume_state')
    if opt.get('auto_resume'):
        state_path = latest_state_file(opt) or state_path
    if not state_path:
        return None
    state_path = Path(state_path)
    state = load_state_dict(state_path)  # optimizer/scheduler dicts (MultiStepRestartLR's Counter is allowed)
    if not isinstance(state, dict) or not {'iter', 'epoch', 'optimizers', 'schedulers'} <= set(state):
        raise CorruptWeightsError(f'{state_path} is not a pyiqa training state (expected iter, epoch, optimizers '
                                  'and schedulers).')
    opt['path']['resume_state'] = str(state_path)

    weights = state_path.parent.parent / 'models' / f'net_{state["iter"]}.pth'
    if not weights.is_file():
        raise WeightsNotFoundError(
            f'Cannot resume from {state_path}: the network weights of iteration {state["iter"]} '
            f'({weights}) are missing.')
    opt['path']['pretrain_network'] = str(weights)
    opt['path']['strict_load'] = True
    logger.info(f'Resuming from {state_path} with network weights {weights}.')
    return state
