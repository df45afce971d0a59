"""Metric name -> pyiqa metric config, as plain data.

pyiqa looks metric names up in ``pyiqa.default_model_configs.DEFAULT_CONFIGS`` before any
registry, so these entries are merged into that dict (see ``hook.py``). This module must stay
importable without torch: it is read at interpreter start-up by the ``.pth`` hook.

One name per variant: the ``pyiqa`` CLI cannot pass per-metric options. Each family owns one
block below; ``METRIC_CONFIGS`` is their union.
"""


def _nr(arch, lower_better=False, score_range='0, 1', **arch_opts):
    return {
        'metric_opts': {'type': arch, **arch_opts},
        'metric_mode': 'NR',
        'lower_better': lower_better,
        'score_range': score_range,
    }


def _fr(arch, lower_better=False, score_range='0, 1', **arch_opts):
    cfg = _nr(arch, lower_better, score_range, **arch_opts)
    cfg['metric_mode'] = 'FR'
    return cfg


# --- UniQA (arXiv 2406.01069) ---------------------------------------------------------------
def _uniqa_adapter(recipe, prompt_set='level'):
    # no official adapters exist: the user trains one with ``recipe`` and passes
    # pretrained_model_path=...; without it the arch says exactly that
    return _nr('UniQA', prompt_set=prompt_set, use_adapter=True,
               adapter_recipe=f'options/uniqa/{recipe}.yml')


UNIQA_CONFIGS = {
    # zero-shot with the official prompt ensemble: the paper's strongest zero-shot setting (UniQA*)
    'uniqa': _nr('UniQA', prompt_set='ensemble', use_adapter=False),
    'uniqa-level': _nr('UniQA', prompt_set='level', use_adapter=False),
    'uniqa-koniq': _uniqa_adapter('koniq'),
    'uniqa-livec': _uniqa_adapter('livec'),
    'uniqa-spaq': _uniqa_adapter('spaq'),
    'uniqa-kadid': _uniqa_adapter('kadid'),
    'uniqa-ava': _uniqa_adapter('ava'),
    'uniqa-aadb': _uniqa_adapter('aadb'),
    'uniqa-agiqa3k': _uniqa_adapter('agiqa3k', prompt_set='aigc'),
}

# --- ATTIQA (arXiv 2406.01020) and the AIGC CLIP-AGIQA model ---------------------------------
# No official weights exist for either: each name expects a checkpoint you trained, found as
# pretrained_model_path=... or under its weights_file name in pyiqa's cache dir.
ATTIQA_FINETUNED_ON = ('koniq', 'livec', 'spaq', 'flive', 'ava')  # options/attiqa/<dataset>.yml
ATTIQA_CONFIGS = {
    'attiqa': _nr('ATTIQA', weights_file='attiqa_koniq.pth'),  # KonIQ, as pyiqa's NR defaults
    **{f'attiqa-{dataset}': _nr('ATTIQA', weights_file=f'attiqa_{dataset}.pth') for dataset in ATTIQA_FINETUNED_ON},
    'clip-agiqa': _nr('CLIPAGIQA', score_range='0, 5', weights_file='clip_agiqa_agiqa3k.pth'),
    'clip-agiqa-agiqa3k': _nr('CLIPAGIQA', score_range='0, 5', weights_file='clip_agiqa_agiqa3k.pth'),
    'clip-agiqa-aigciqa2023': _nr('CLIPAGIQA', score_range='0, 100', weights_file='clip_agiqa_aigciqa2023.pth'),
}

# --- DepictQA-style descriptive quality (arXiv 2405.18842) -----------------------------------
DEPICTQA_CONFIGS = {
    'depictqa': _nr('DepictQA'),
    'depictqa-fr': _fr('DepictQA', reference=True),
}

METRIC_CONFIGS = {**UNIQA_CONFIGS, **ATTIQA_CONFIGS, **DEPICTQA_CONFIGS}
