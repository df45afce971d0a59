"""pyiqa's own ``train_pipeline``, run in this process with the working directory as root.

``python -m pyiqa.train`` would write experiments into site-packages; ``train_in_process`` runs the same
pipeline after fixing what pyiqa gets wrong for us:

- the options file is read as plain data (``options.load_yaml``; pyiqa's parser would build any
  Python object the file names), ``--force_yml`` values too (pyiqa ``exec``-s them), and pyiqa
  gets the parsed options, never the file (``normalize_options`` derives what pyiqa's parser does);
- every input the options name is checked before anything is created (``preflight.py``), and a
  run that fails before its first iteration leaves no folder behind (``clean_start.py``);
- misnamed keys are honoured and ignored keys reported (``option_check.py``); resume works on CPU
  and restores the network weights; split files are read without running code
  (``pyiqa_patches.py``).

``args`` carries what pyiqa's command line does: ``opt`` (the file), ``force_yml``, ``auto_resume``,
``debug``, ``launcher``, ``local_rank``, ``strict_options``.

A caller follows the run through ``TrainingCallbacks`` (progress, every validation's numbers, a
request to stop), called from inside pyiqa's own loop: the demo, ``bench-train`` and the tests
train exactly what ``pyiqa-uniqa train`` trains.
"""
import contextlib
import os
import random
from os import path as osp


class TrainingCallbacks:
    """What a caller of ``train_in_process`` hears while pyiqa's loop runs; override what you need.

    ``model`` is pyiqa's training model (``model.net`` the network, ``model.opt`` the options).
    """

    def started(self, model, total_iters):
        """The model is built (and resumed); ``total_iters`` iterations will run."""

    def iteration_done(self, model, iteration):
        """One optimisation step is done; ``model.get_current_log()`` holds its losses."""

    def validated(self, model, iteration, dataset, results):
        """A validation pass on ``dataset`` (its name) ended: ``results`` is {metric: value}."""

    def should_stop(self):
        """True ends the run after the current iteration (no further validation or checkpoint)."""
        return False


class _StopRequested(Exception):
    """Raised inside pyiqa's loop when the callbacks ask to stop; ``train_in_process`` ends quietly."""


@contextlib.contextmanager
def _followed_by(callbacks, on_first_iteration):
    """pyiqa's ``build_model`` and loader set-up, wrapped so the loop reports to ``callbacks``;
    ``on_first_iteration()`` is called as the first training iteration starts (see ``clean_start``)."""
    import pyiqa.train

    from pyiqa_uniqa.training.pyiqa_patches import replaced

    plan = {}

    def loaders_counting_iterations(opt, logger):
        result = create_loaders(opt, logger)
        plan['total_iters'] = result[-1]
        return result

    def followed_model(opt):
        model = build_model(opt)
        optimize, validation = model.optimize_parameters, model.validation
        done = {'iteration': 0}  # pyiqa's own counter runs past the last one at the end

        def optimize_parameters(current_iter):
            if not done['iteration']:
                on_first_iteration()
            optimize(current_iter)
            done['iteration'] = current_iter
            callbacks.iteration_done(model, current_iter)
            if callbacks.should_stop():
                raise _StopRequested

        def validate(dataloader, current_iter, *args, **kwargs):
            outcome = validation(dataloader, current_iter, *args, **kwargs)
            callbacks.validated(model, done['iteration'], dataloader.dataset.opt['name'], dict(model.metric_results))
            return outcome

        model.optimize_parameters, model.validation = optimize_parameters, validate
        callbacks.started(model, plan['total_iters'])
        return model

    with replaced(pyiqa.train, 'create_train_val_dataloader', loaders_counting_iterations) as create_loaders, \
            replaced(pyiqa.train, 'build_model', followed_model) as build_model:
        try:
            yield
        except _StopRequested:
            pass


def normalize_options(opt, args):
    """The options pyiqa's ``parse_options`` derives without side effects (pyiqa 0.1.16).

    Unlike pyiqa, ``--force_yml`` is applied first, so it can also set ``manual_seed``; then every
    value's kind and the run's name are checked (``preflight.check_shape``), and a missing section
    is left for the preflight to report.
    """
    import torch

    from pyiqa_uniqa.options import apply_overrides
    from pyiqa_uniqa.training.preflight import check_shape
    apply_overrides(opt, args.force_yml, source=f'{args.opt} --force_yml')
    check_shape(opt, args.opt, root=os.getcwd())
    opt['auto_resume'] = args.auto_resume
    opt['is_train'] = True
    if args.debug and 'name' in opt and not str(opt['name']).startswith('debug'):
        opt['name'] = 'debug_' + opt['name']
    if opt.get('num_gpu') == 'auto':
        opt['num_gpu'] = torch.cuda.device_count()
    for phase, dataset in (opt.get('datasets') or {}).items():
        if not isinstance(dataset, dict):
            continue
        dataset['phase'] = phase.split('_')[0]  # val_1, val_2: several validation sets
        if 'scale' in opt:
            dataset['scale'] = opt['scale']
        for key in ('dataroot_gt', 'dataroot_lq'):
            if dataset.get(key) is not None:
                dataset[key] = osp.expanduser(dataset[key])
    for key, value in (opt.get('path') or {}).items():
        if value is not None and ('resume_state' in key or 'pretrain_network' in key):
            opt['path'][key] = osp.expanduser(value)
    return opt


def start_options(opt, args, root):
    """The side effects of pyiqa's ``parse_options``: distributed set-up, seeding, output paths."""
    from pyiqa.utils import set_random_seed
    from pyiqa.utils.dist_util import get_dist_info, init_dist
    from pyiqa.utils.options import make_paths

    opt['dist'] = args.launcher != 'none'
    if args.launcher == 'slurm' and 'dist_params' in opt:
        init_dist(args.launcher, **opt['dist_params'])
    elif opt['dist']:
        init_dist(args.launcher)
    opt['rank'], opt['world_size'] = get_dist_info()
    if opt.get('manual_seed') is None:
        opt['manual_seed'] = random.randint(1, 10000)
    set_random_seed(opt['manual_seed'] + opt['rank'])
    make_paths(opt, root)
    return opt


def train_in_process(args, callbacks=None, root=None):
    """Check, then train the options file ``args.opt`` with pyiqa's pipeline; experiments go under
    ``root`` (default: the working directory). ``callbacks``: a ``TrainingCallbacks`` to follow the run."""
    from pyiqa_uniqa.options import load_yaml
    from pyiqa_uniqa.training.pyiqa_patches import check_pyiqa_version

    opt = load_yaml(args.opt)
    check_pyiqa_version()
    import pyiqa.train

    from pyiqa_uniqa.training.clean_start import undone_unless_started
    from pyiqa_uniqa.training.option_check import fix_renamed_keys, report_unknown_keys
    from pyiqa_uniqa.training.preflight import check_inputs
    from pyiqa_uniqa.training.pyiqa_patches import pyiqa_for_our_training

    root = os.path.abspath(root or os.getcwd())
    normalize_options(opt, args)
    fix_renamed_keys(opt)
    check_inputs(opt, args.opt)
    report_unknown_keys(opt, strict=args.strict_options)
    start_options(opt, args, root)
    with undone_unless_started(root, opt) as started, pyiqa_for_our_training(), _own_log_file(), \
            _followed_by(callbacks or TrainingCallbacks(), started):
        pyiqa.train.train_pipeline(root, opt, args)


@contextlib.contextmanager
def _own_log_file():
    """Each run logs to its own experiment's log file. pyiqa sets its logger up once per process (the
    first run's file handler would take every later run's lines), so a run starts and ends with a logger
    pyiqa has not set up: its handlers closed and removed, its name forgotten."""
    import logging

    from pyiqa.utils import logger as pyiqa_logger

    def forget():
        logger = logging.getLogger('pyiqa')
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        pyiqa_logger.initialized_logger.pop('pyiqa', None)

    forget()
    try:
        yield
    finally:
        forget()
