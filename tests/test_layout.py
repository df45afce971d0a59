"""The package's layout: the library never imports the applications, and no two rooms (top-level folders,
subfolders included) import each other.

Every ``import`` statement counts, also those inside functions (that is where this package imports its
heavy modules), so a lazy import against the grain is caught too.
"""
import ast
from collections import defaultdict
from pathlib import Path

import pyiqa_uniqa

PACKAGE = Path(pyiqa_uniqa.__file__).parent
APPS = 'pyiqa_uniqa.apps'
# the console entry point: ``python -m pyiqa_uniqa`` runs the command line
ENTRY_POINTS = {'pyiqa_uniqa.__main__'}
# the package root is the public API, not a library room: its lazy ``score_images`` is the scoring
# application's function (moving it would move journal, columns and table with it); nothing else may
ROOT_API = {'pyiqa_uniqa.apps.scoring.engine', 'pyiqa_uniqa.apps.scoring.engine.score_images'}


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _imports():
    """module -> {(imported module, line)} for every pyiqa_uniqa module."""
    found = defaultdict(set)
    for path in PACKAGE.rglob('*.py'):
        module = _module_name(path)
        package = module if path.name == '__init__.py' else module.rpartition('.')[0]
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:  # relative import
                    base = '.'.join(package.split('.')[:len(package.split('.')) - node.level + 1] + ([base] if base else []))
                names = [base] + [f'{base}.{alias.name}' for alias in node.names]
            else:
                continue
            found[module].update((name, node.lineno) for name in names if name.startswith('pyiqa_uniqa'))
    return found


def _is_app(module):
    return module == APPS or module.startswith(APPS + '.')


def test_the_library_never_imports_the_applications():
    against_the_grain = sorted(
        f'{module} (line {line}) imports {target}'
        for module, targets in _imports().items() if not _is_app(module) and module not in ENTRY_POINTS
        for target, line in targets if _is_app(target) and not (module == 'pyiqa_uniqa' and target in ROOT_API))
    assert not against_the_grain, '\n'.join(against_the_grain)


def _room(module):
    """The room a module belongs to: a top-level folder of the library (``pyiqa_uniqa.data``) or of the
    applications (``pyiqa_uniqa.apps.bench``), subfolders included (``apps.bench.eval`` is in
    ``apps.bench``); a module directly in ``pyiqa_uniqa/`` or ``pyiqa_uniqa/apps/`` is a room of its own."""
    parts = module.split('.')
    depth = 3 if module.startswith(APPS + '.') else 2
    room = '.'.join(parts[:depth])
    return room if PACKAGE.parent.joinpath(*parts[:depth]).is_dir() else module


def _folder_graph():
    """room -> the rooms it imports. The package root is left out: it is the lazy public API, whose one
    import of an application ``test_the_root_reaches_the_applications_only_for_score_images`` checks."""
    graph = defaultdict(set)
    known = {_module_name(path) for path in PACKAGE.rglob('*.py')}
    for module, targets in _imports().items():
        for target, _ in targets:
            while target not in known and '.' in target:  # `from pkg.mod import name` names a function
                target = target.rpartition('.')[0]
            source, destination = _room(module), _room(target)
            if source != destination and 'pyiqa_uniqa' not in (source, destination):
                graph[source].add(destination)
    return graph


def test_no_two_folders_import_each_other():
    graph = _folder_graph()
    cycles = []

    def visit(node, path):
        for following in sorted(graph.get(node, ())):
            if following in path:
                cycle = path[path.index(following):] + [following]
                if min(cycle[:-1]) == cycle[0]:  # report each cycle once, from its smallest folder
                    cycles.append(' -> '.join(cycle))
            elif len(path) < 12:
                visit(following, path + [following])

    for start in sorted(graph):
        visit(start, [start])
    assert not cycles, '\n'.join(sorted(set(cycles)))


def test_the_checks_see_a_violation():
    # the checks are only worth having if they would notice: the scan must see the CLI's own imports
    imports = _imports()
    assert any(target == 'pyiqa_uniqa.apps' for target, _ in imports['pyiqa_uniqa.apps.cli'])
    assert _is_app('pyiqa_uniqa.apps.scoring.engine') and not _is_app('pyiqa_uniqa.weights')
    assert _room('pyiqa_uniqa.apps.bench.eval.runner') == 'pyiqa_uniqa.apps.bench'
    assert _room('pyiqa_uniqa.data.images') == 'pyiqa_uniqa.data' and _room('pyiqa_uniqa.weights') == 'pyiqa_uniqa.weights'
    assert 'pyiqa_uniqa.apps.scoring' in _folder_graph()['pyiqa_uniqa.apps.bench']  # bench measures score


def test_the_root_reaches_the_applications_only_for_score_images():
    into_apps = {target for target, _ in _imports()['pyiqa_uniqa'] if _is_app(target)}
    assert into_apps == ROOT_API  # and it does import it: the exception is in use, not stale
