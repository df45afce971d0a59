"""Decide before anything imports huggingface_hub whether to run in Hugging Face offline mode.

Without ``HF_HUB_OFFLINE=1`` a metric whose weights come from the Hub (through timm or
transformers) retries for about a minute before failing when there is no network; with it, it
fails at once and its cells say "missing weights". ``--offline`` forces the mode; otherwise it is
switched on when the Hub's host name does not even resolve (a quick, local DNS answer).
"""
import os
import socket
import threading

HUB_HOST = 'huggingface.co'


def hub_resolvable(host=HUB_HOST, timeout=3.0):
    answer = {}

    def lookup():
        try:
            socket.getaddrinfo(host, 443)
            answer['ok'] = True
        except OSError:
            answer['ok'] = False
    thread = threading.Thread(target=lookup, daemon=True)  # getaddrinfo itself has no timeout
    thread.start()
    thread.join(timeout)
    return answer.get('ok', False)


def configure_offline(forced):
    """Set the HF offline variables when forced or when the Hub is unreachable; return a note or ''."""
    if os.environ.get('HF_HUB_OFFLINE', '').lower() in ('1', 'true', 'yes', 'on'):
        return ''
    if not forced and hub_resolvable():
        return ''
    os.environ['HF_HUB_OFFLINE'] = '1'
    os.environ['TRANSFORMERS_OFFLINE'] = '1'
    return '' if forced else f'{HUB_HOST} does not resolve: running with HF_HUB_OFFLINE=1 (missing weights fail fast)'
