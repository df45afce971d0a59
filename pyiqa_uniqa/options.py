"""Read option files (YAML) as plain data, never as Python objects.

pyiqa parses recipes with PyYAML's full ``Loader``, which builds any Python object a file names:
``model_type: !!python/object/apply:os.system [...]`` runs a command. Every YAML this package reads
(``train -opt``, ``--force_yml`` values, eval and bench option files) goes through ``load_yaml``
instead: PyYAML's safe constructors (mappings, lists, strings, numbers, booleans, null, and the
``!!float`` / ``!!int`` / ``!!str`` tags pyiqa's recipes use), mappings in file order as pyiqa's
``ordered_yaml`` keeps them. A Python tag, a syntax error, a repeated key, a binary file or content
that is not a mapping is an ``OptionsFileError`` naming the file and the line.
"""
import re
from pathlib import Path

import yaml

from pyiqa_uniqa.errors import UserError

try:  # the C parser, as pyiqa uses when available; same results, faster
    _BaseLoader = yaml.CSafeLoader
except AttributeError:
    _BaseLoader = yaml.SafeLoader


class OptionsFileError(UserError, ValueError):
    """An option file cannot be read as plain options."""


class _PlainLoader(_BaseLoader):
    """SafeLoader that also refuses a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == 'tag:yaml.org,2002:merge':  # '<<: *defaults': merged by PyYAML, may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f'the key {key!r} is given twice (first on line {seen[key] + 1})', key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)



def _where(source, mark):
    return f'{source}, line {mark.line + 1}' if mark is not None else str(source)


def parse_yaml(text, source='<text>'):
    """Plain data from YAML ``text``; ``source`` names it in errors (a file name, a flag)."""
    try:
        return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - _PlainLoader is a SafeLoader
    except yaml.constructor.ConstructorError as err:
        unknown_tag = re.search(r"constructor for the tag '([^']+)'", err.problem or '')
        if unknown_tag:
            tag = unknown_tag.group(1).replace('tag:yaml.org,2002:', '!!')
            raise OptionsFileError(
                f'{_where(source, err.problem_mark)}: the tag {tag} is not allowed. Option files are read as '
                'plain data (mappings, lists, strings, numbers), never as Python objects; remove the tag.') from None
        raise OptionsFileError(f'{_where(source, err.problem_mark)}: {err.problem}.') from None
    except yaml.MarkedYAMLError as err:
        raise OptionsFileError(f'{_where(source, err.problem_mark)}: not valid YAML ({err.problem}).') from None
    except yaml.YAMLError as err:  # e.g. a reader error: characters YAML does not allow
        raise OptionsFileError(f'{source}: not a YAML text file ({err}).') from None


def load_yaml(path, what='options file'):
    """The mapping in the YAML file ``path`` (see the module doc); ``what`` names it in errors."""
    path = Path(path)
    if not path.exists():
        raise OptionsFileError(f'{path}: no such {what}.')
    if not path.is_file():
        raise OptionsFileError(f'{path} is a folder, not an {what}.' if path.is_dir() else f'{path} is not a file.')
    try:
        text = path.read_bytes().decode('utf-8')
    except UnicodeDecodeError:
        raise OptionsFileError(f'{path} is not a text file; an {what} (YAML) was expected.') from None
    data = parse_yaml(text, path)
    if not isinstance(data, dict):
        found = 'nothing' if data is None else f'a {type(data).__name__}'
        raise OptionsFileError(f'{path}: an {what} must be a YAML mapping (name: ..., datasets: ...); '
                               f'it holds {found}.')
    return data


def parse_override(entry, source='--force_yml'):
    """``'train:total_iter=100'`` -> ``(['train', 'total_iter'], 100)``, the values read as pyiqa reads
    them (``~``/``none`` -> None, ``true``/``false``, ``!!float 1e-4``, numbers, ``[...]`` lists), but
    lists are parsed as YAML, not ``eval``-ed."""
    keys, equals, value = entry.partition('=')
    if not equals or not keys.strip():
        raise OptionsFileError(f'{source} {entry!r}: expected section:key=value, e.g. train:total_iter=100.')
    value = value.strip()
    lowered = value.lower()
    if lowered in ('~', 'none'):
        parsed = None
    elif lowered in ('true', 'false'):
        parsed = lowered == 'true'
    elif value.startswith(('!!float', '[')):
        parsed = parse_yaml(value, f'{source} {entry!r}')
    elif value.isdigit():
        parsed = int(value)
    elif value.replace('.', '', 1).isdigit():
        parsed = float(value)
    else:
        parsed = value
    return [k.strip() for k in keys.split(':')], parsed


def apply_overrides(opt, entries, source='--force_yml'):
    """Set each ``section:key=value`` of ``entries`` in ``opt``; the sections must exist."""
    for entry in entries or ():
        keys, value = parse_override(entry, source)
        block = opt
        for depth, key in enumerate(keys[:-1]):
            if not isinstance(block.get(key), dict):
                where = ':'.join(keys[:depth + 1])
                raise OptionsFileError(f'{source} {entry!r}: the options have no section {where!r}.')
            block = block[key]
        block[keys[-1]] = value
    return opt
