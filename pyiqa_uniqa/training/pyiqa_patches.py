"""What the train command changes inside pyiqa, in one place, only while it runs.

The command drives pyiqa 0.1.16's own ``train_pipeline`` and replaces, for its duration:

- ``pyiqa.train.load_resume_state`` with ``resume.load_resume_state`` (CPU resume that also
  restores the network weights);
- the ``pickle`` module that ``pyiqa.data.base_iqa_dataset`` reads split files with (plain
  ``pickle.load``, which runs whatever a split file asks for) with ``safe_pickle``'s plain-data
  reader: split files of every pyiqa dataset class hold lists and dicts, so nothing legitimate is
  refused, and a file asking for anything else stops the run naming the file.

(``pipeline.py`` also wraps ``pyiqa.train.build_model``, to report the loop to its callbacks.)

These are pyiqa internals, so the command runs only on the pyiqa versions it was tested with
(``TESTED_PYIQA``; ``setup.py`` pins the same range).
"""
import contextlib
import types

from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.safe_pickle import load_plain_pickle

TESTED_PYIQA = ('0.1.16',)


def check_pyiqa_version():
    from importlib.metadata import version
    installed = version('pyiqa')
    if installed not in TESTED_PYIQA:
        raise UserError(
            f'pyiqa-uniqa train was written for pyiqa {" / ".join(TESTED_PYIQA)} (it replaces parts of pyiqa\'s '
            f'training pipeline) and this is pyiqa {installed}. Install a tested version: '
            f'pip install "pyiqa=={TESTED_PYIQA[-1]}".')


@contextlib.contextmanager
def replaced(owner, name, value):
    """``owner.name = value`` for the duration of the block."""
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield original
    finally:
        setattr(owner, name, original)


@contextlib.contextmanager
def pyiqa_for_our_training():
    """The replacements of the module doc."""
    import pyiqa.data.base_iqa_dataset
    import pyiqa.train

    from pyiqa_uniqa.training import resume

    plain_pickle = types.SimpleNamespace(load=load_plain_pickle)
    with replaced(pyiqa.train, 'load_resume_state', resume.load_resume_state), \
            replaced(pyiqa.data.base_iqa_dataset, 'pickle', plain_pickle):
        yield
