"""Resume that works on CPU and restores the network weights.

pyiqa 0.1.16's ``load_resume_state`` calls ``torch.cuda.current_device()`` (crashes without a GPU)
and re-points weights only for option keys named ``network_*``, so a ``GeneralIQAModel`` (key
``network``) resumes its optimizer but restarts from the initial weights. This replacement loads
the state onto the training device and points ``path.pretrain_network`` at the checkpoint saved
at the same iteration, which the model loads strictly in its constructor.
"""
import collections
import logging
from pathlib import Path

import torch

logger = logging.getLogger('pyiqa_uniqa')


def latest_state_file(opt):
    states_dir = Path(opt['root_path']) / 'experiments' / opt['name'] / 'training_states'
    states = sorted(states_dir.glob('*.state'), key=lambda p: int(p.stem)) if states_dir.is_dir() else []
    return states[-1] if states else None


def load_resume_state(opt):
    state_path = opt['path'].get('resume_state')
    if opt.get('auto_resume'):
        state_path = latest_state_file(opt) or state_path
    if not state_path:
        return None
    state_path = Path(state_path)
    device = torch.device('cuda', torch.cuda.current_device()) if opt.get('num_gpu') else 'cpu'
    # training states hold optimizer/scheduler dicts; MultiStepRestartLR keeps a Counter
    with torch.serialization.safe_globals([collections.Counter]):
        state = torch.load(state_path, map_location=device, weights_only=True)
    opt['path']['resume_state'] = str(state_path)

    weights = state_path.parent.parent / 'models' / f'net_{state["iter"]}.pth'
    if not weights.is_file():
        raise FileNotFoundError(
            f'Cannot resume from {state_path}: the network weights of iteration {state["iter"]} '
            f'({weights}) are missing.')
    opt['path']['pretrain_network'] = str(weights)
    opt['path']['strict_load'] = True
    logger.info(f'Resuming from {state_path} with network weights {weights}.')
    return state
