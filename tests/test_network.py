"""The one network probe: the offline variables, HF_ENDPOINT (a mirror), and offline mode for the metric commands."""
import os
import socket

import pytest

from pyiqa_uniqa import network


@pytest.fixture
def clean_env(monkeypatch):
    for variable in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'HF_ENDPOINT'):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(network, '_probed', {})
    return monkeypatch


@pytest.fixture
def listening():
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    yield f'http://127.0.0.1:{server.getsockname()[1]}'
    server.close()


@pytest.mark.parametrize('variable', ['HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'])
def test_either_offline_variable_means_no_without_probing(clean_env, variable):
    clean_env.setattr(network, '_probe', lambda host, port: pytest.fail('probed although offline was set'))
    clean_env.setenv(variable, 'YES')
    assert network.offline_reason() == f'{variable} is set'


def test_the_probe_asks_the_mirror_in_hf_endpoint(clean_env, listening):
    asked = []
    clean_env.setattr(network, '_probe', lambda host, port: asked.append((host, port)) or '')
    clean_env.setenv('HF_ENDPOINT', 'https://hf-mirror.example:8443')
    assert network.offline_reason() == ''
    assert asked == [('hf-mirror.example', 8443)]
    clean_env.setenv('HF_ENDPOINT', listening)  # a real answering host
    assert network.offline_reason() == ''


def test_a_mirror_that_answers_keeps_commands_online(clean_env, listening):
    clean_env.setenv('HF_ENDPOINT', listening)
    assert network.offline_mode() == ''
    assert 'HF_HUB_OFFLINE' not in os.environ and 'TRANSFORMERS_OFFLINE' not in os.environ


def test_an_unreachable_hub_switches_both_libraries_offline_with_a_note(clean_env):
    clean_env.setenv('HF_ENDPOINT', 'http://127.0.0.1:9')  # nothing listens there
    note = network.offline_mode()
    assert note.startswith('127.0.0.1:9 cannot be reached') and 'HF_HUB_OFFLINE=1' in note
    assert os.environ['HF_HUB_OFFLINE'] == os.environ['TRANSFORMERS_OFFLINE'] == '1'


def test_forced_offline_mode_needs_no_probe_and_says_nothing(clean_env):
    clean_env.setattr(network, '_probe', lambda host, port: pytest.fail('probed although forced'))
    clean_env.setenv('HF_HUB_OFFLINE', '0')  # --offline wins over the user's variable
    assert network.offline_mode(forced=True) == ''
    assert os.environ['HF_HUB_OFFLINE'] == os.environ['TRANSFORMERS_OFFLINE'] == '1'


def test_a_variable_the_user_set_is_left_alone(clean_env):
    clean_env.setattr(network, '_probe', lambda host, port: pytest.fail('probed although the user decided'))
    clean_env.setenv('HF_HUB_OFFLINE', '0')
    assert network.offline_mode() == ''
    assert os.environ['HF_HUB_OFFLINE'] == '0' and 'TRANSFORMERS_OFFLINE' not in os.environ
