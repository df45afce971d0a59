"""The model card (``README.md``) of an exported model folder, and the evaluation table it holds.

The card follows the Hugging Face Hub's conventions: a YAML metadata block (``library_name``,
``license``, ``tags``, ``metrics`` and a ``model-index`` with the evaluation results, which the Hub
shows as the model's results), then how to load it, the options it was built with, the data it was
trained on, its evaluation table and its licence. The evaluation comes from ``pyiqa-uniqa eval``'s
``results.csv`` when given, else from the validation figures pyiqa wrote into the run's training log
(for ``net_best.pth``: the validation where the recipe's ``key_metric`` reached its best).
"""
import csv
import json
import re
from pathlib import Path

import yaml

from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.model_folder import ARCH_NAMES, CONFIG_FILE, RECIPE_FILE, WEIGHTS_FILE

# pyiqa's validation lines: "Validation <set>" then one "\t # <metric>: <value>\tBest: <value> @ <iter> iter" each
_VALIDATION = re.compile(r'Validation (\S+)\n((?:\s+# \w+: .*\n?)+)')
_FIGURE = re.compile(r'# (\w+): ([-\d.eE+naninf]+)(?:\s+Best: ([-\d.eE+naninf]+) @ (\d+) iter)?')


class EvalResultError(UserError, ValueError):
    """An --eval-result file that is not an eval results table."""


def evaluation_from_log(experiment, checkpoint_name, recipe):
    """Rows {data, figures {name: value}, source} from the newest training log of ``experiment``."""
    logs = sorted(Path(experiment).glob('train_*.log'))
    if not logs:
        return []
    blocks = [(name, {m[0]: (float(m[1]), m[2] and float(m[2]), m[3] and int(m[3])) for m in _FIGURE.findall(body)})
              for name, body in _VALIDATION.findall(logs[-1].read_text(encoding='utf-8', errors='replace'))]
    key = ((recipe.get('val') or {}).get('key_metric')) or None
    rows = {}
    for data, figures in blocks:
        if not figures:
            continue
        metric = key if key in figures else next(iter(figures))
        value, best, best_iter = figures[metric]
        if checkpoint_name == 'net_best.pth' and best is not None and value != best:
            continue  # not the validation this checkpoint was saved at
        where = f'validation at iteration {best_iter}' if checkpoint_name == 'net_best.pth' and best_iter \
            else 'last validation'
        rows[data] = {'data': data, 'figures': {name: f[0] for name, f in figures.items()},
                      'source': f'training log ({logs[-1].name}), {where}'}
    return list(rows.values())


def evaluation_from_eval_csv(path):
    """Rows from ``pyiqa-uniqa eval``'s ``results.csv`` (the cells that were computed)."""
    path = Path(path)
    if not path.is_file():
        raise EvalResultError(f'--eval-result {path}: no such file (pass the results.csv `pyiqa-uniqa eval` wrote).')
    with open(path, newline='', encoding='utf-8') as f:
        table = list(csv.DictReader(f))
    if not table or not {'dataset', 'status', 'srcc', 'plcc'} <= set(table[0]):
        raise EvalResultError(f'--eval-result {path} is not the results.csv of `pyiqa-uniqa eval` '
                              '(columns dataset, status, srcc, plcc ...).')
    names = ('srcc', 'plcc', 'krcc', 'rmse')
    return [{'data': f"{row['dataset']} ({row.get('images', '?')} images)",
             'figures': {n: float(row[n]) for n in names if row.get(n)},
             'source': f'`pyiqa-uniqa eval` ({path.name}, metric {row.get("metric", "")})'}
            for row in table if row['status'] == 'ok']


def model_card(config, recipe, evaluation, *, backbone_note='', run=''):
    """The README.md text of a model folder."""
    what = ARCH_NAMES.get(config.arch, config.arch)
    better = 'lower' if config.lower_better else 'higher'
    trained = f'trained on {config.trained_on or "?"}' + (f' (run `{run}`)' if run else '')
    lines = [
        '---', yaml.safe_dump(_metadata(config, evaluation), sort_keys=False).rstrip(), '---', '',
        f'# {config.metric}: {what} trained with pyiqa-uniqa', '',
        (f'The `{config.arch}` network of the pyiqa metric `{config.metric}` (scores in [{config.score_range}], '
         f'{better} is better), {trained} with pyiqa-uniqa {config.package_version}.'), '',
        '## Use', '', '```python', 'import pyiqa', '',
        f"metric = pyiqa.create_metric('{config.metric}', pretrained_model_path='hf-hub:ORG/REPO')  # or the folder",
        "score = metric('photo.jpg')", '```', '',
        (f'From the command line: `pyiqa-uniqa score -m {config.metric}:pretrained_model_path=hf-hub:ORG/REPO '
         '--images photos/ --out scores.csv` (the same metric option works in `eval`, `bench`, `compare` and '
         '`rank`).'), '',
        '## Model', '',
        (f"`{CONFIG_FILE}` holds every option that rebuilds the network; they replace the metric's defaults "
         'when the folder is loaded.'), '',
        '| option | value |', '|---|---|',
        *(f'| {name} | `{json.dumps(value)}` |' for name, value in config.options.items()),
        *(['', backbone_note] if backbone_note else []), '',
        '## Training data', '', _training_data(recipe, config), '',
        '## Evaluation', '', *_evaluation_table(evaluation), '',
        '## Licence', '',
        (f'`{config.license}`. The weights were trained on the data above; its terms apply to them as well.'), '',
        '## Files', '',
        f'- `{WEIGHTS_FILE}`: the trained tensors (safetensors)',
        f'- `{CONFIG_FILE}`: metric, arch and options',
        *([f'- `{RECIPE_FILE}`: the training recipe of the run'] if recipe else []),
        '- `README.md`: this card', '']
    return '\n'.join(lines)


def _metadata(config, evaluation):
    """The Hub's metadata block: library, licence, tags, and the evaluation as a ``model-index``."""
    metadata = {'library_name': 'pyiqa-uniqa', 'license': config.license,
                'tags': ['image-quality-assessment', 'pyiqa', 'pyiqa-uniqa', config.arch.lower()]}
    if evaluation:
        metadata['metrics'] = sorted({name for row in evaluation for name in row['figures']})
        metadata['model-index'] = [{'name': config.metric, 'results': [
            {'task': {'type': 'image-quality-assessment', 'name': 'Image quality assessment'},
             'dataset': {'name': row['data'], 'type': row['data'].split(' ')[0]},
             'metrics': [{'type': name, 'value': round(value, 4), 'name': name.upper()}
                         for name, value in row['figures'].items()]}
            for row in evaluation]}]
    return metadata


def _evaluation_table(evaluation):
    if not evaluation:
        return [('No evaluation was recorded with this run; `pyiqa-uniqa eval` measures one '
                 '(`export-model --eval-result results.csv` puts it here).')]
    names = list(dict.fromkeys(name for row in evaluation for name in row['figures']))
    return ['| data | ' + ' | '.join(n.upper() for n in names) + ' | source |', '|---' * (len(names) + 2) + '|',
            *(f"| {row['data']} | " + ' | '.join(_figure(row['figures'].get(n)) for n in names)
              + f" | {row['source']} |" for row in evaluation)]


def _training_data(recipe, config):
    train = ((recipe or {}).get('datasets') or {}).get('train') or {}
    if not train:
        return f'{config.trained_on} (the recipe of the run was not exported).'
    parts = [f"`{train.get('name', '?')}` ({train.get('type', '?')}"]
    if train.get('meta_info_file'):
        parts.append(f", labels {Path(str(train['meta_info_file'])).name}")
    if train.get('split_file'):
        parts.append(f", split {Path(str(train['split_file'])).name}")
    return ''.join(parts) + f'); the whole recipe is `{RECIPE_FILE}`.'


def _figure(value):
    return '' if value is None else f'{value:.4f}'
