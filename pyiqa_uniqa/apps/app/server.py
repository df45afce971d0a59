"""One server for the page and both APIs: a FastAPI app with the JSON routes and Gradio mounted at ``/``."""
import threading
import time

from pyiqa_uniqa.apps.app.api import api_router

LOOPBACK = '127.0.0.1'


def build_app(service, served):
    """The ASGI app: ``/api/...`` (``api.py``), the page and Gradio's API (``page.py``)."""
    import gradio as gr
    from fastapi import FastAPI

    from pyiqa_uniqa.apps.app.page import build_page, theme

    folders = ', '.join(f'`{folder}`' for folder in served.folders)
    note = f'Served folders: {folders}.' if folders else 'No served folders: upload images.'
    blocks = build_page(service, served, note)
    # the page's own queue: as many requests at once as the service admits, so they can batch
    size = service.settings.queue_size
    blocks.queue(default_concurrency_limit=size, max_size=size)
    app = FastAPI(title='pyiqa-uniqa', docs_url=None, redoc_url=None)
    app.include_router(api_router(service, served))
    return gr.mount_gradio_app(app, blocks, path='/', theme=theme(), footer_links=['api'], show_error=True,
                               max_file_size=service.settings.limits.max_bytes)


def make_server(app, host=LOOPBACK, port=7860):
    import uvicorn
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level='warning', access_log=False))


class ServerThread:
    """A server run in a thread of this process, on a free loopback port (what the tests use):
    ``with ServerThread(app) as url: ...``."""

    def __init__(self, app, port=0, start_timeout_s=60):
        self.server = make_server(app, LOOPBACK, port)
        self.start_timeout_s = start_timeout_s
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError('the app server did not start')
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f'http://{LOOPBACK}:{port}'

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)
