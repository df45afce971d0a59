"""Read option files (YAML) as plain data, never as Python objects.

pyiqa parses recipes with PyYAML's full ``Loader``, which builds any Python object a file names:
``model_type: !!python/object/apply:os.system [...]`` runs a command. Every YAML this package reads
(``train -opt``, ``--force_yml`` values, eval and bench option files) goes through ``load_yaml``
instead: PyYAML's safe constructors (mappings, lists, strings, numbers, booleans, null, and the
``!!float`` / ``!!int`` / ``!!str`` tags pyiqa's recipes use), mappings in file order as pyiqa's
``ordered_yaml`` keeps them. A Python tag, a syntax error, a repeated key, a binary file or content
that is not a mapping is an ``OptionsFileError`` naming the file and the line.

Only YAML's core types are built: mappings, lists, strings, integers, floats, booleans and null.
A date (``name: 2024-02-30``) stays the text it is, as a name or a path needs it; the tags of
other types (``!!timestamp``, ``!!binary``, ``!!set``, ``!!omap``, ``!!pairs``) are refused like a
Python tag; a value its tag cannot build (``!!float abc``, ``!!bool maybe``, an integer of 5000
digits, a list as a key) and a list or mapping that contains itself (``a: &x [*x]``) are an
``OptionsFileError`` naming the file and line, never an exception from inside PyYAML.
"""
import re
from collections.abc import Hashable
from pathlib import Path

import yaml

from pyiqa_uniqa.errors import UserError

try:  # the C parser, as pyiqa uses when available; same results, faster
    _BaseLoader = yaml.CSafeLoader
except AttributeError:
    _BaseLoader = yaml.SafeLoader


class OptionsFileError(UserError, ValueError):
    """An option file cannot be read as plain options."""


_CORE = 'tag:yaml.org,2002:'
_NOT_PLAIN_TAGS = ('timestamp', 'binary', 'set', 'omap', 'pairs')


class _PlainLoader(_BaseLoader):
    """SafeLoader of the core types (module doc) that also refuses a key given twice in one mapping
    (PyYAML keeps the last silently)."""

    # dates stay text: no implicit timestamp resolver
    yaml_implicit_resolvers = {first: [(tag, pattern) for tag, pattern in resolvers if tag != _CORE + 'timestamp']
                               for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()}

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as err:  # PyYAML's constructors
            tag = node.tag.replace(_CORE, '!!')
            why = ('it has more digits than Python converts' if 'Exceeds the limit' in str(err)  # not Python's advice
                   else f'{err.__class__.__name__}: {err}')
            raise yaml.constructor.ConstructorError(
                None, None, f'this {tag} value cannot be read ({why})', node.start_mark) from None

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)  # PyYAML's "expected a mapping node"
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == 'tag:yaml.org,2002:merge':  # '<<: *defaults': merged by PyYAML, may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    None, None, f'a {type(key).__name__} cannot be a key; keys are names', key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f'the key {key!r} is given twice (first on line {seen[key] + 1})', key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)

    def refuse_tag(self, node):
        raise yaml.constructor.ConstructorError(
            None, None, f"could not determine a constructor for the tag '{node.tag}'", node.start_mark)


for _tag in _NOT_PLAIN_TAGS:
    _PlainLoader.add_constructor(_CORE + _tag, _PlainLoader.refuse_tag)


def _contains_itself(data, inside=()):
    """Whether a list or mapping of ``data`` contains itself (a recursive YAML alias)."""
    if not isinstance(data, (dict, list)):
        return False
    if any(data is outer for outer in inside):
        return True
    values = data.values() if isinstance(data, dict) else data
    return any(_contains_itself(value, (*inside, data)) for value in values)


def _where(source, mark):
    return f'{source}, line {mark.line + 1}' if mark is not None else str(source)


def parse_yaml(text, source='<text>'):
    """Plain data from YAML ``text``; ``source`` names it in errors (a file name, a flag)."""
    try:
        data = yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - _PlainLoader is a SafeLoader
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
    except RecursionError:
        raise OptionsFileError(f'{source}: nested too deeply to be options.') from None
    if _contains_itself(data):
        raise OptionsFileError(f'{source}: a list or mapping contains itself (a recursive alias, &name ... *name); '
                               'options must be a tree.')
    return data


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


_INTEGER = re.compile(r'[0-9]+')  # ASCII digits: str.isdigit() also takes '²', which int() refuses
_DECIMAL = re.compile(r'[0-9]+\.[0-9]*|\.[0-9]+')


def _integer(value, source, entry):
    try:
        return int(value)
    except ValueError:  # more digits than Python converts (4300)
        raise OptionsFileError(f'{source} {entry.partition("=")[0]}=...: the number has {len(value)} digits, '
                               'too many to be an option.') from None


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
    elif _INTEGER.fullmatch(value):
        parsed = _integer(value, source, entry)
    elif _DECIMAL.fullmatch(value):
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
