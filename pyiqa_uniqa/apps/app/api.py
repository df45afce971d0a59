"""The plain HTTP API (JSON answers, multipart uploads), beside Gradio's own on the same server.

    curl -F image=@photo.jpg http://127.0.0.1:7860/api/score
    curl -F path=shots/photo.jpg http://127.0.0.1:7860/api/score           # a file in a served folder
    curl -F image=@photo.jpg -F metrics=uniqa,piqe http://127.0.0.1:7860/api/score     # some of the metrics
    curl -F a=@x.png -F b=@y.png -F ref=@clean.png -F detail=1 http://127.0.0.1:7860/api/compare
    curl http://127.0.0.1:7860/api/metrics

A refused request answers ``{"error": message}`` with the status of its ``RequestError``: 400 (no
image, not an image, a metric the server has not loaded), 403 (a path outside the served folders), 413 (too many bytes or pixels), 503
with ``Retry-After`` (the queue is full: retry), 504 (no answer in time).
"""
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pyiqa_uniqa.apps.app.limits import BusyError, RequestError, TooLargeError

UPLOAD_FIELDS = {'score': ('image', 'ref'), 'compare': ('a', 'b', 'ref')}
CHUNK = 2 ** 20


def _error(err):
    headers = {'Retry-After': '1'} if isinstance(err, BusyError) else None
    return JSONResponse({'error': str(err)}, status_code=err.status, headers=headers)


def _save_upload(upload, folder, limits, field):
    """Copy an upload into ``folder`` (refusing it past ``limits.max_bytes``); -> (path, its name)."""
    name = Path(upload.filename or field).name
    path = Path(folder) / f'{field}{Path(name).suffix[:16]}'
    written = 0
    with open(path, 'wb') as out:
        while chunk := upload.file.read(CHUNK):
            written += len(chunk)
            if written > limits.max_bytes:
                raise TooLargeError(f'{field} ({name}): more than the {limits.max_bytes / CHUNK:g} MiB this server '
                                    'accepts; send a smaller file (the server sets --max-upload-mb).')
            out.write(chunk)
    return str(path), name


async def _inputs(request, kind, service, served, folder):
    """-> ({field: (path, name)}, metric labels, detail) from a multipart form: uploads, or ``<field>_path`` /
    ``path`` names of served files; ``metrics``: labels to run, comma-separated (default: all); ``detail``:
    1 for DepictQA's reasoning in a paragraph (compare)."""
    try:
        form = await request.form(max_files=len(UPLOAD_FIELDS[kind]), max_fields=2 * len(UPLOAD_FIELDS[kind]) + 2)
    except Exception as err:  # noqa: BLE001 - starlette's parse errors: the client sent no valid form
        raise RequestError(f'send a multipart form (curl -F image=@photo.jpg); the body could not be read: {err}') from None
    found = {}
    for field in UPLOAD_FIELDS[kind]:
        upload = form.get(field)
        named = form.get(f'{field}_path') or (form.get('path') if field == 'image' else None)
        if hasattr(upload, 'filename'):
            found[field] = _save_upload(upload, folder, service.settings.limits, field)
        elif named:
            found[field] = (str(served.resolve(named)), str(named))
    for field in UPLOAD_FIELDS[kind][:-1]:  # the last field, ref, is optional
        if field not in found:
            named = 'path' if field == 'image' else f'{field}_path'
            raise RequestError(f'no image in field {field!r}: upload one with -F {field}=@FILE, or name a file in a '
                               f'served folder with -F {named}=NAME.')
    labels = [label.strip() for label in str(form.get('metrics') or '').split(',') if label.strip()]
    return found, labels, str(form.get('detail', '')).lower() in ('1', 'true', 'yes')


def api_router(service, served):
    router = APIRouter(prefix='/api')

    @router.get('/metrics')
    def metrics():
        return {'metrics': service.describe_metrics(), 'served_folders': [str(f) for f in served.folders],
                'max_upload_bytes': service.settings.limits.max_bytes,
                'max_pixels': service.settings.limits.max_pixels}

    @router.get('/health')
    def health():
        return {'ok': True, 'rejected': service.batcher.rejected, 'forward_passes': service.batcher.forward_passes}

    async def answer(request, kind):
        from starlette.concurrency import run_in_threadpool

        folder = tempfile.mkdtemp(prefix='pyiqa-uniqa-app-')
        try:
            found, labels, detail = await _inputs(request, kind, service, served, folder)
            ref, ref_name = found.get('ref', (None, None))
            if kind == 'score':
                return await run_in_threadpool(service.score, *found['image'], ref, ref_name, labels)
            (a, a_name), (b, b_name) = found['a'], found['b']
            return await run_in_threadpool(service.compare, a, b, ref, (a_name, b_name, ref_name), labels, detail)
        except RequestError as err:
            return _error(err)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @router.post('/score')
    async def score(request: Request):
        return await answer(request, 'score')

    @router.post('/compare')
    async def compare(request: Request):
        return await answer(request, 'compare')

    return router
