"""The prompts file written by ``select-prompts`` and read by ``label`` (YAML).

    prompts:
      sharpness: {positive: Sharp photo., negative: Blurry photo., srcc: 0.71}
      ...
    candidates:            # every pair scored, for the record
      sharpness: [{positive: ..., negative: ..., srcc: ...}, ...]
    clip_model: ..., clip_weights: ..., probe: ...
"""
from pathlib import Path

from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES, check_attribute_names


def write_prompts_file(path, chosen, candidates, **provenance):
    """chosen: {attribute: (positive, negative, srcc)}; candidates: {attribute: [(pos, neg, srcc), ...]}."""
    import yaml

    def entry(pos, neg, srcc):
        return {'positive': pos, 'negative': neg, 'srcc': None if srcc is None else round(float(srcc), 4)}

    document = {
        'prompts': {name: entry(*chosen[name]) for name in ATTRIBUTES if name in chosen},
        'candidates': {name: [entry(*c) for c in candidates[name]] for name in ATTRIBUTES if name in candidates},
        **provenance,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('# written by pyiqa-uniqa select-prompts\n' + yaml.safe_dump(document, sort_keys=False))
    return path


def load_prompt_pairs(path):
    """{attribute: (positive, negative)} for all five attributes; clear errors for bad files."""
    import yaml
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'prompts file {path} does not exist (write one with pyiqa-uniqa select-prompts).')
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f'{path} is not valid YAML: {err}') from err
    prompts = document.get('prompts') if isinstance(document, dict) else None
    if not isinstance(prompts, dict):
        raise ValueError(f"{path}: expected a top-level 'prompts:' mapping of attribute -> positive/negative.")  # noqa: TRY004 - a bad file, not a bad argument
    check_attribute_names(prompts, str(path))
    missing = [name for name in ATTRIBUTES if name not in prompts]
    if missing:
        raise ValueError(f'{path}: no prompts for {missing}; all of {list(ATTRIBUTES)} are needed.')
    pairs = {}
    for name in ATTRIBUTES:
        entry = prompts[name]
        if not (isinstance(entry, dict) and all(isinstance(entry.get(k), str) and entry[k].strip()
                                                for k in ('positive', 'negative'))):
            raise ValueError(f'{path}: prompts.{name} needs non-empty positive and negative strings.')
        pairs[name] = (entry['positive'], entry['negative'])
    return pairs
