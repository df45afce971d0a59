"""Report options that pyiqa 0.1.16 would silently ignore, and fix the two it misnames.

pyiqa reads a fixed set of keys and ignores everything else without a word: a misspelt augment
(``random_crops``), the ``regress_opt`` of its own example YAML, ``pretrain_network_g`` (the name
all its shipped YAMLs use; ``GeneralIQAModel`` reads ``pretrain_network``). Model and dataset
classes may declare the extra keys they read as ``option_keys = {'train': {...}, ...}`` (a dataset
also its extra augment keys, under ``'augment'``).
"""
import logging

from pyiqa_uniqa.errors import UserError

logger = logging.getLogger('pyiqa_uniqa')

KNOWN_KEYS = {
    '': {'name', 'model_type', 'num_gpu', 'manual_seed', 'datasets', 'network', 'path', 'train',
         'val', 'logger', 'dist_params', 'find_unused_parameters', 'is_train', 'scale',
         # set by pyiqa's option parser itself
         'dist', 'rank', 'world_size', 'auto_resume', 'root_path'},
    'path': {'pretrain_network', 'param_key_g', 'strict_load', 'resume_state', 'ignore_resume_networks',
             'experiments_root', 'models', 'training_states', 'log', 'visualization', 'results_root'},
    'train': {'optim', 'optim_finetune', 'scheduler', 'total_iter', 'total_epoch', 'warmup_iter',
              'mos_loss_opt', 'metric_loss_opt', 'use_ref', 'finetune_start_iter'},
    'val': {'val_freq', 'save_img', 'metrics', 'key_metric', 'pbar', 'suffix'},
    'logger': {'print_freq', 'save_checkpoint_freq', 'save_latest_freq', 'use_tb_logger', 'wandb',
               'log_imgs_freq'},
    'dataset': {'name', 'type', 'dataroot_target', 'dataroot_ref', 'meta_info_file', 'split_file',
                'split_index', 'split_ratio', 'phase', 'override_phase', 'augment', 'img_range',
                'mos_normalize', 'mos_range', 'lower_better', 'batch_size_per_gpu',
                'num_worker_per_gpu', 'use_shuffle', 'dataset_enlarge_ratio', 'pin_memory',
                'persistent_workers', 'prefetch_mode', 'num_prefetch_queue'},
    'augment': {'random_crop', 'center_crop', 'resize', 'adaptive_resize', 'random_square_resize',
                'random_arp_resize', 'ada_pad', 'rot90', 'randomerase', 'hflip', 'vflip', 'totensor'},
}

# pyiqa's misnamed keys: (section, name pyiqa's YAMLs use, name its code reads)
RENAMED_KEYS = [('path', 'pretrain_network_g', 'pretrain_network'),
                ('path', 'strict_load_g', 'strict_load')]


class OptionError(UserError, ValueError):
    pass


def _declared_keys(registry_name, type_name):
    """Extra keys a model or dataset class and its base classes say they read (``option_keys``)."""
    from pyiqa.utils import registry
    table = getattr(registry, registry_name)
    try:
        cls = table.get(type_name)
    except Exception:  # noqa: BLE001 - an unknown type is reported by pyiqa itself, clearly
        return {}
    declared = {}
    for klass in cls.__mro__:
        for section, keys in vars(klass).get('option_keys', {}).items():
            declared.setdefault(section, set()).update(keys)
    return declared


def fix_renamed_keys(opt):
    """Honour ``pretrain_network_g``/``strict_load_g`` by moving them to the names pyiqa reads."""
    for section, old, new in RENAMED_KEYS:
        block = opt.get(section) or {}
        if old not in block:
            continue
        if block.get(new) is not None and block[old] is not None and block[new] != block[old]:
            raise OptionError(f'{section}.{old} and {section}.{new} disagree; keep one of them.')
        value = block.pop(old)
        if block.get(new) is None:
            block[new] = value
            logger.info(f'options: {section}.{old} is read as {section}.{new}.')
    return opt


def unknown_keys(opt):
    """Dotted names of every option pyiqa (and the chosen model/datasets) would ignore."""
    model_keys = _declared_keys('MODEL_REGISTRY', opt.get('model_type', 'GeneralIQAModel'))
    found = []

    def check(block, section, where, extra=()):
        allowed = KNOWN_KEYS[section] | set(model_keys.get(section, ())) | set(extra)
        found.extend(f'{where}{k}' for k in block if k not in allowed)

    check(opt, '', '')
    for section in ('path', 'train', 'val', 'logger'):
        if isinstance(opt.get(section), dict):
            check(opt[section], section, f'{section}.')
    for phase, dataset in (opt.get('datasets') or {}).items():
        declared = _declared_keys('DATASET_REGISTRY', dataset.get('type', ''))
        if dataset.get('base_type'):  # a wrapper (CarvedSplitNRDataset) passes its other keys to the base type
            for section, keys in _declared_keys('DATASET_REGISTRY', dataset['base_type']).items():
                declared.setdefault(section, set()).update(keys)
        check(dataset, 'dataset', f'datasets.{phase}.', declared.get('dataset', ()))
        if isinstance(dataset.get('augment'), dict):
            check(dataset['augment'], 'augment', f'datasets.{phase}.augment.', declared.get('augment', ()))
    return found


def report_unknown_keys(opt, strict=False):
    keys = unknown_keys(opt)
    if keys:
        message = 'options pyiqa would silently ignore: ' + ', '.join(keys)
        if strict:
            raise OptionError(message)
        logger.warning(message)
        print(f'WARNING: {message}')
    return keys
