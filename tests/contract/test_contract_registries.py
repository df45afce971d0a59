"""Contract tests over the registries, as timm and pyiqa test every registered model: whatever a part
declares (pyiqa registry entries, CLI commands) works, so a new entry is tested by these tests."""
import importlib

import pytest

from pyiqa_uniqa.apps.cli import COMMANDS, main
from pyiqa_uniqa.plugin import LAZY_REGISTRATIONS

TARGETS = sorted((group, name, target) for group, entries in LAZY_REGISTRATIONS.items()
                 for name, target in entries.items())


@pytest.mark.parametrize('group, name, target', TARGETS, ids=[f'{g}:{n}' for g, n, _ in TARGETS])
def test_every_registry_target_imports(group, name, target):
    module, _, attribute = target.partition(':')
    obj = getattr(importlib.import_module(module), attribute)
    assert callable(obj)
    if group != 'metrics':  # classes are registered under their own name, as pyiqa's decorators do
        assert obj.__name__ == name


def test_every_registry_target_is_found_by_pyiqa():
    from pyiqa.utils import registry
    tables = {'archs': registry.ARCH_REGISTRY, 'models': registry.MODEL_REGISTRY, 'losses': registry.LOSS_REGISTRY,
              'datasets': registry.DATASET_REGISTRY, 'metrics': registry.METRIC_REGISTRY}
    for group, name, target in TARGETS:
        module, _, attribute = target.partition(':')
        assert tables[group].get(name) is getattr(importlib.import_module(module), attribute), (group, name)


@pytest.mark.parametrize('command', sorted(COMMANDS))
def test_every_command_answers_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, '--help'])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: pyiqa-uniqa') and command in out.splitlines()[0]
    assert ' '.join(COMMANDS[command][1].split()) in ' '.join(out.split())  # the one-line help is the description
