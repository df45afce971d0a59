"""The prompts file written by ``select-prompts`` and read by ``label`` (YAML).

    prompts:
      sharpness: {positive: Sharp photo., negative: Blurry photo., srcc: 0.71}
      ...
    candidates:            # every pair scored, for the record
      sharpness: [{positive: ..., negative: ..., srcc: ...}, ...]
    clip_model: ..., backbone_weights: ..., probe: ...
"""
from pathlib import Path

import yaml

from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES, check_attribute_names
from pyiqa_uniqa.attiqa.errors import InputError, InputNotFoundError
from pyiqa_uniqa.files import write_file
from pyiqa_uniqa.options import load_yaml


def write_prompts_file(path, chosen, candidates, **provenance):
    """chosen: {attribute: (positive, negative, srcc)}; candidates: {attribute: [(pos, neg, srcc), ...]}."""

    def entry(pos, neg, srcc):
        return {'positive': pos, 'negative': neg, 'srcc': None if srcc is None else round(float(srcc), 4)}

    document = {
        'prompts': {name: entry(*chosen[name]) for name in ATTRIBUTES if name in chosen},
        'candidates': {name: [entry(*c) for c in candidates[name]] for name in ATTRIBUTES if name in candidates},
        **provenance,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, '# written by pyiqa-uniqa select-prompts\n' + yaml.safe_dump(document, sort_keys=False))
    return path


def load_prompt_pairs(path):
    """{attribute: (positive, negative)} for all five attributes; clear errors for bad files."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f'--prompts {path}: no such file (write one with pyiqa-uniqa select-prompts).')
    document = load_yaml(path, what='input prompts file')  # plain data only: a python tag is refused
    prompts = document.get('prompts')
    if not isinstance(prompts, dict):
        raise InputError(f"{path}: expected a top-level 'prompts:' mapping of attribute -> positive/negative.")
    check_attribute_names(prompts, str(path))
    missing = [name for name in ATTRIBUTES if name not in prompts]
    if missing:
        raise InputError(f'{path}: no prompts for {missing}; all of {list(ATTRIBUTES)} are needed.')
    pairs = {}
    for name in ATTRIBUTES:
        entry = prompts[name]
        if not (isinstance(entry, dict) and all(isinstance(entry.get(k), str) and entry[k].strip()
                                                for k in ('positive', 'negative'))):
            raise InputError(f'{path}: prompts.{name} needs non-empty positive and negative strings.')
        pairs[name] = (entry['positive'], entry['negative'])
    return pairs
