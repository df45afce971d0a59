"""The one answer to "can anything be downloaded now?", shared by the weight finders and every command.

The answer comes from, in order:

- ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` set to a true value (``1``, ``on``, ``yes``, ``true``):
  no, at once (the same values huggingface_hub and transformers accept);
- otherwise one TCP connection to the host that would serve the file (for the Hub: ``HF_ENDPOINT``,
  so a mirror is probed, not huggingface.co), for at most ``NETWORK_TIMEOUT_S`` with the DNS lookup
  included, once per host and process.

``offline_reason`` is what ``weights.require_network`` asks before a download; ``offline_mode``
is what the metric commands call before pyiqa imports huggingface_hub, so a Hub-hosted weight
file that is missing fails at once instead of after a minute of retries.
"""
import os
import socket
import threading
from urllib.parse import urlparse

NETWORK_TIMEOUT_S = 2.0
DEFAULT_HF_ENDPOINT = 'https://huggingface.co'
OFFLINE_VARIABLES = ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE')
_TRUE = ('1', 'on', 'yes', 'true')

_probed = {}  # (host, port) -> reason it is unreachable, or '' when it answered (per process)


def hub_endpoint():
    """Where Hugging Face files come from: ``$HF_ENDPOINT`` (a mirror) or huggingface.co."""
    return os.environ.get('HF_ENDPOINT') or DEFAULT_HF_ENDPOINT


def offline_reason(url=None):
    """Why nothing can be downloaded from ``url`` (default: the Hub endpoint) now; '' when it can."""
    for variable in OFFLINE_VARIABLES:
        if os.environ.get(variable, '').strip().lower() in _TRUE:
            return f'{variable} is set'
    parsed = urlparse(url or hub_endpoint())
    host = parsed.hostname or urlparse(DEFAULT_HF_ENDPOINT).hostname
    port = parsed.port or (80 if parsed.scheme == 'http' else 443)
    if (host, port) not in _probed:
        _probed[host, port] = _probe(host, port)
    return _probed[host, port]


def _probe(host, port):
    outcome = []

    def connect():
        try:
            socket.create_connection((host, port), timeout=NETWORK_TIMEOUT_S).close()
            outcome.append('')
        except OSError as err:
            outcome.append(f'{host}:{port} cannot be reached ({err.__class__.__name__})')

    # in a thread, because a DNS lookup ignores the socket timeout
    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(NETWORK_TIMEOUT_S)
    return outcome[0] if outcome else f'{host}:{port} did not answer within {NETWORK_TIMEOUT_S:g} s'


def offline_mode(forced=False):
    """Switch huggingface_hub and transformers to offline mode when ``forced`` or the Hub does not answer.

    Call it before anything imports huggingface_hub (it reads the variables once). Without ``forced``,
    a variable the user set either way (``HF_HUB_OFFLINE=0`` included) is left as it is. Returns a
    note for the user when the probe (not the user) chose offline mode, else ''.
    """
    if not forced and any(os.environ.get(variable, '').strip() for variable in OFFLINE_VARIABLES):
        return ''
    reason = '' if forced else offline_reason()
    if forced or reason:
        os.environ.update(dict.fromkeys(OFFLINE_VARIABLES, '1'))
    return f'{reason}: running with HF_HUB_OFFLINE=1 (missing weights fail at once)' if reason else ''
