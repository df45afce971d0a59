"""``pyiqa-uniqa export-model``: a training run -> a self-describing model folder others load by name.

    pyiqa-uniqa export-model experiments/uniqa_koniq --metric uniqa-koniq --out uniqa-koniq-mine

The folder (``pyiqa_uniqa.model_folder``) holds the trained tensors as ``model.safetensors``, a
``config.json`` naming the metric and every option that rebuilds the network (backbone geometry,
prompt set, crops ...), the run's recipe as ``recipe.yml`` and a model card ``README.md`` (the Hub's
metadata block, the evaluation table of the run, the data, the licence). Load it with
``pyiqa.create_metric(metric, pretrained_model_path=FOLDER)``; ``pyiqa-uniqa push`` puts it on the Hub.

The run is an experiment folder (``experiments/<name>``: its ``models/net_best.pth``, the options file
pyiqa copied there, its training log) or a checkpoint file (then the recipe and log of the experiment
around it when it sits in ``experiments/<name>/models/``, else ``--recipe`` or the metric's own options).
"""
import importlib
import shlex
from pathlib import Path

from pyiqa_uniqa.apps.model_card import (
    evaluation_from_eval_csv,
    evaluation_from_log,
    model_card,
)
from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.model_folder import (
    ARCH_NAMES,
    NOT_FROM_FOLDER,
    ModelConfig,
    check_options,
    write_model_folder,
)
from pyiqa_uniqa.options import apply_overrides, load_yaml
from pyiqa_uniqa.parts import declared, declared_registry
from pyiqa_uniqa.variants import trained_metric
from pyiqa_uniqa.weights import (
    RANDOM,
    WeightsNotFoundError,
    looks_like_path,
    read_state_dict,
)

CHECKPOINT_NAMES = ('net_best.pth', 'net_latest.pth')


class ExportError(UserError, ValueError):
    """The run and the metric named do not make a model folder."""


def add_arguments(parser):
    parser.add_argument('run', metavar='EXPERIMENT_OR_CHECKPOINT',
                        help='experiments/<name> (its models/net_best.pth) or a checkpoint file')
    parser.add_argument('--metric', required=True, help='the metric it was trained for, e.g. uniqa-koniq')
    parser.add_argument('--out', required=True, help='the model folder to write (must not exist, or be empty)')
    parser.add_argument('--recipe', metavar='YAML',
                        help="the run's options file (default: the one pyiqa copied into the experiment folder)")
    parser.add_argument('--eval-result', metavar='CSV',
                        help="results.csv of `pyiqa-uniqa eval` on this model, for the card's evaluation table "
                             '(default: the validation figures of the training log)')
    parser.add_argument('--license', default='other',
                        help="the card's licence field (a Hub licence id; default 'other': the training data's terms apply)")
    parser.add_argument('--trained-on', help="the training data, for the card (default: the recipe's train set, else the metric's dataset)")


def run(args):
    files = export_model(args.run, args.metric, args.out, recipe_file=args.recipe, eval_result=args.eval_result,
                         license=args.license, trained_on=args.trained_on)
    print(f'{args.out}: {", ".join(p.name for p in files)}. Load it with '
          f"pyiqa.create_metric({args.metric!r}, pretrained_model_path={str(args.out)!r}); "
          f'share it with `pyiqa-uniqa push {args.out} ORG/REPO`.')


def export_model(run, metric, out, *, recipe_file=None, eval_result=None, license='other', trained_on=None):
    """Check the whole request, then write the model folder ``out``; returns the paths written."""
    config_of_metric, dataset = _our_metric(metric)
    arch = config_of_metric['metric_opts']['type']
    checkpoint, experiment = _checkpoint_of(Path(run))
    recipe_path = Path(recipe_file) if recipe_file else _recipe_of(experiment)
    if recipe_path is not None and not recipe_path.is_file():
        raise ExportError(f'--recipe {recipe_path}: no such file.')
    recipe = _run_options(recipe_path) if recipe_path else {}
    network = dict(recipe.get('network') or {})
    if network and network.get('type') != arch:
        raise ExportError(f'{recipe_path} trains a {network.get("type")} network, but --metric {metric} is '
                          f'{ARCH_NAMES.get(arch, arch)}: pass the metric it was trained for.')
    state_dict = read_state_dict(checkpoint)
    if network.get('base_model_path'):  # heads trained on a frozen backbone: the folder holds the whole network
        backbone = read_state_dict(network['base_model_path'])
        state_dict = {**{k: v for k, v in backbone.items() if k.startswith('backbone.')}, **state_dict}
    options, backbone_note = _portable_options({**config_of_metric['metric_opts'], **network})
    check_options(options, f'the options of {recipe_path or metric}', _arch_init(arch))
    evaluation = (evaluation_from_eval_csv(eval_result) if eval_result
                  else evaluation_from_log(experiment, checkpoint.name, recipe) if experiment else [])
    config = ModelConfig(metric=metric, arch=arch, options=options, score_range=config_of_metric['score_range'],
                         lower_better=config_of_metric['lower_better'],
                         trained_on=trained_on or _training_set(recipe) or dataset, license=license,
                         package_version=_version())
    card = model_card(config, recipe, evaluation, backbone_note=backbone_note,
                      run=experiment.name if experiment else checkpoint.name)
    recipe_text = recipe_path.read_text(encoding='utf-8') if recipe_path else None
    return write_model_folder(out, config, state_dict, card, recipe_text)


def _our_metric(metric):
    """(metric config, the dataset of its variant or '') of a metric of pyiqa-uniqa whose arch loads folders."""
    configs = declared('METRICS')
    if configs.get(metric, {}).get('metric_opts', {}).get('type') not in ARCH_NAMES:
        names = sorted(name for name, config in configs.items() if config['metric_opts']['type'] in ARCH_NAMES)
        raise ExportError(f'--metric {metric!r} is not a metric of pyiqa-uniqa that loads a trained model; '
                          f'export-model takes one of: {", ".join(names)}.')
    found = trained_metric(metric)
    return configs[metric], found[1].dataset if found else ''


def _checkpoint_of(run):
    """(checkpoint file, experiment folder or None) of a run given as a folder or a file."""
    if run.is_dir():
        for name in CHECKPOINT_NAMES:
            if (run / 'models' / name).is_file():
                return run / 'models' / name, run
        raise WeightsNotFoundError(f'{run} holds no models/{CHECKPOINT_NAMES[0]} or models/{CHECKPOINT_NAMES[1]}: '
                                   'pass an experiment folder of `pyiqa-uniqa train` or a checkpoint file.')
    if not run.is_file():
        raise WeightsNotFoundError(f'{run} does not exist: pass an experiment folder or a checkpoint file.')
    experiment = run.parent.parent if run.parent.name == 'models' else None
    return run, experiment


def _recipe_of(experiment):
    """The options file pyiqa copied into the experiment (the one naming the experiment, if several)."""
    if experiment is None:
        return None
    recipes = sorted(experiment.glob('*.yml'))
    for recipe in recipes:
        if (load_yaml(recipe).get('name') or '') == experiment.name:
            return recipe
    return recipes[0] if recipes else None


def _run_options(recipe_path):
    """The options the run trained with: pyiqa's copy of the file, with the ``--force_yml`` overrides of the
    command line pyiqa wrote at its top (``# CMD:``) applied again."""
    options = load_yaml(recipe_path)
    lines = recipe_path.read_text(encoding='utf-8').splitlines()
    if len(lines) > 2 and lines[1].strip() == '# CMD:':
        try:
            words = shlex.split(lines[2].lstrip('# '))
        except ValueError as err:  # a hand-edited copy
            raise ExportError(f'{recipe_path}: its recorded command (line 3) cannot be read ({err}).') from None
        if '--force_yml' in words:
            after = words[words.index('--force_yml') + 1:]
            entries = after[:next((i for i, w in enumerate(after) if w.startswith('-')), len(after))]
            apply_overrides(options, entries, source=f'{recipe_path} (the --force_yml of its run)')
    return options


def _portable_options(options):
    """The options without those that name this machine's files; and what the card says of the backbone."""
    portable = {k: v for k, v in options.items() if k != 'type' and k not in NOT_FROM_FOLDER}
    weights = portable.get('backbone_weights')
    note = ''
    if isinstance(weights, str) and weights != RANDOM and looks_like_path(weights):
        del portable['backbone_weights']
        note = (f'It was trained on the backbone file `{Path(weights).name}`; pass the same file as '
                '`backbone_weights=` when the default search does not find it.')
    return portable, note


def _arch_init(arch):
    module, name = declared_registry()['archs'][arch].split(':')
    return getattr(importlib.import_module(module), name).__init__


def _training_set(recipe):
    train = (recipe.get('datasets') or {}).get('train') or {}
    return train.get('name') if isinstance(train, dict) else None


def _version():
    from pyiqa_uniqa import __version__
    return __version__
