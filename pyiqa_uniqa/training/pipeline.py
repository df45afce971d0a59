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
"""
import os
import random
from os import path as osp


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


def train_in_process(args):
    """Check, then train the options file ``args.opt`` with pyiqa's pipeline, rooted at the working directory."""
    from pyiqa_uniqa.options import load_yaml
    from pyiqa_uniqa.training.pyiqa_patches import check_pyiqa_version

    opt = load_yaml(args.opt)
    check_pyiqa_version()
    import pyiqa.train

    from pyiqa_uniqa.training.clean_start import undone_unless_started
    from pyiqa_uniqa.training.option_check import fix_renamed_keys, report_unknown_keys
    from pyiqa_uniqa.training.preflight import check_inputs
    from pyiqa_uniqa.training.pyiqa_patches import pyiqa_for_our_training

    root = os.getcwd()
    normalize_options(opt, args)
    fix_renamed_keys(opt)
    check_inputs(opt, args.opt)
    report_unknown_keys(opt, strict=args.strict_options)
    start_options(opt, args, root)
    with undone_unless_started(root, opt) as started, pyiqa_for_our_training(started):
        pyiqa.train.train_pipeline(root, opt, args)
