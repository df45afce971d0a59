"""pyiqa's own weight downloads, made to fail in one line: the file, the URL and the folder it goes in.

pyiqa's built-in metrics (brisque, niqe, ilniqe, lpips, ...) fetch their files with
``pyiqa.utils.download_util.load_file_from_url``, which calls ``download_url_to_file`` when the file
is not in its cache folder. Offline that ends in a long ``urllib.error.URLError`` traceback (or a
wait for the network). ``guard_pyiqa_downloads()`` wraps that call for the rest of the process:

- offline (``HF_HUB_OFFLINE`` set, by ``--offline`` or because the Hub does not resolve): no attempt,
  a ``WeightsNotFoundError`` at once;
- online: the download runs; when it fails, the same error with the reason.

Either way the message names the file, the URL pyiqa fetches it from, and the folder to put it in,
so a machine without network can be given the file by hand.
"""
import functools
import os
from pathlib import Path

from pyiqa_uniqa.weights import WeightsNotFoundError


def _offline():
    return os.environ.get('HF_HUB_OFFLINE', '').lower() in ('1', 'true', 'yes', 'on')


def missing_file_error(url, destination, reason):
    destination = Path(destination)
    return WeightsNotFoundError(
        f'pyiqa needs {destination.name} and {reason}. Download {url} on a machine with network and put it '
        f'in {destination.parent}/ (pyiqa looks there first).')


def guarded(download):
    """``download`` (torch.hub's ``download_url_to_file``) with the behaviour of the module doc."""
    if getattr(download, 'guarded', False):
        return download

    @functools.wraps(download)
    def download_or_explain(url, dst, *args, **kwargs):
        if _offline():
            raise missing_file_error(url, dst, 'it is not in pyiqa\'s cache (running offline)')
        try:
            return download(url, dst, *args, **kwargs)
        except OSError as err:  # URLError, connection and HTTP errors are all OSErrors
            raise missing_file_error(url, dst, f'it could not be downloaded ({type(err).__name__}: {err})') from err

    download_or_explain.guarded = True
    return download_or_explain


def guard_pyiqa_downloads():
    """Install ``guarded`` into pyiqa's downloader (idempotent; for the running command's process)."""
    from pyiqa.utils import download_util

    download_util.download_url_to_file = guarded(download_util.download_url_to_file)
