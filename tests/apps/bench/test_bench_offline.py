"""Hugging Face offline mode is switched on when asked, or when the Hub cannot be resolved."""
from pyiqa_uniqa.apps.bench import offline


def test_offline_mode_when_forced_or_unresolvable(monkeypatch):
    for resolvable, forced, expected in [(True, False, None), (True, True, '1'), (False, False, '1')]:
        monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
        monkeypatch.delenv('TRANSFORMERS_OFFLINE', raising=False)
        monkeypatch.setattr(offline, 'hub_resolvable', lambda resolvable=resolvable: resolvable)
        note = offline.configure_offline(forced)
        assert offline.os.environ.get('HF_HUB_OFFLINE') == expected
        assert offline.os.environ.get('TRANSFORMERS_OFFLINE') == expected
        assert ('does not resolve' in note) == (not resolvable and not forced)


def test_an_unanswered_lookup_counts_as_unreachable(monkeypatch):
    monkeypatch.setattr(offline.socket, 'getaddrinfo', lambda *a: __import__('time').sleep(5))
    assert offline.hub_resolvable(timeout=0.1) is False
