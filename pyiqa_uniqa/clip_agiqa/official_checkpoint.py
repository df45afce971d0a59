"""Read a run folder of the official CLIP-AGIQA trainer without running anything its pickles name.

The official code (github.com/wzczc/CLIP-AGIQA, on the Dassl trainer) saves each registered part
under ``<output dir>/<part>/``: ``model-best.pth.tar`` (the best validation epoch; the README command
sets ``TEST.FINAL_MODEL best_val``) and ``model.pth.tar-<epoch>`` (the last epoch). The parts are
``prompt_learner`` (``ctx``, plus ``token_prefix``/``token_suffix`` derived from CLIP, which the
official loader drops) and ``regression`` (``1.weight`` ... ``4.bias``). Each file is
``{'state_dict', 'epoch', 'optimizer', 'scheduler', 'val_result'}``; with the official warm-up epoch,
``'scheduler'`` holds a pickled ``CosineAnnealingLR`` object and its optimizer, which a weights-only
load refuses. ``load_tensors_ignoring_objects`` rebuilds the tensors and turns every other object
into an inert placeholder that is never called or imported; only ``'state_dict'`` is used.
"""
from dataclasses import dataclass
from pathlib import Path

import torch

from pyiqa_uniqa.safe_pickle import load_tensors_ignoring_objects
from pyiqa_uniqa.weights import CorruptWeightsError, WeightsNotFoundError, unwrap_params

PARTS = ('prompt_learner', 'regression')
BEST_FILE = 'model-best.pth.tar'
KEYWORD = 'official_checkpoint'


def part_file(folder, part, epoch=None):
    """The file the official ``load_model(folder, epoch)`` reads for ``part``."""
    return Path(folder) / part / (BEST_FILE if epoch is None else f'model.pth.tar-{epoch}')


@dataclass
class OfficialCheckpoint:
    """The trained tensors of one official run, under the official names."""
    prompt_learner: dict
    regression: dict
    source: str

    @property
    def context(self):
        """``ctx``: [n_ctx, D] shared by every level, or [levels, n_ctx, D] (``CSC True``)."""
        return self.prompt_learner['ctx']

    @property
    def class_count(self):
        """Number of quality levels the prompts were built for (from ``token_prefix``)."""
        prefix = self.prompt_learner.get('token_prefix')
        return None if prefix is None else prefix.shape[0]

    def state_dict(self):
        """Our names: ``prompt_learner.ctx`` and ``regressor.<official index>.*``."""
        return {'prompt_learner.ctx': self.context, **{f'regressor.{k}': v for k, v in self.regression.items()}}


def read_official_checkpoint(folder, epoch=None):
    """The tensors of ``<folder>/prompt_learner/`` and ``<folder>/regression/`` (best epoch by default)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise WeightsNotFoundError(
            f'{KEYWORD}={folder}: no such folder. Pass the official run folder (the --output-dir of the '
            f'official train.py), which holds {" and ".join(p + "/" for p in PARTS)}.')
    states = {part: _read_part(folder, part, epoch) for part in PARTS}
    prompt = states['prompt_learner']
    if 'ctx' not in prompt:
        raise CorruptWeightsError(f'{part_file(folder, "prompt_learner", epoch)} has no ctx tensor '
                                  f'(found {sorted(prompt)}): is it a CLIP-AGIQA prompt learner?')
    return OfficialCheckpoint(prompt, states['regression'], source=f'{folder} ({part_file(".", "*", epoch)})')


def _read_part(folder, part, epoch):
    path = part_file(folder, part, epoch)
    if not path.is_file():
        saved = sorted(p.name for p in (folder / part).glob('model*.pth.tar*')) if (folder / part).is_dir() else []
        hint = (f'It has {", ".join(saved)}; pass official_epoch=<N> for model.pth.tar-<N>.' if saved
                else f'Is {folder} the official run folder (it should hold {" and ".join(PARTS)})?')
        raise WeightsNotFoundError(f'{KEYWORD}: {path} does not exist. {hint}')
    try:
        state_dict = unwrap_params(load_tensors_ignoring_objects(path), key='state_dict')
    except CorruptWeightsError as err:
        raise CorruptWeightsError(f'{path} is not a checkpoint of the official trainer ({err})') from err
    not_tensors = sorted(k for k, v in state_dict.items() if not torch.is_tensor(v))
    if not_tensors:
        raise CorruptWeightsError(f'{path}: the state dict holds objects that are not tensors: {not_tensors}.')
    return state_dict
