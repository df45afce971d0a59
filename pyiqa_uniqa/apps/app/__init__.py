"""``pyiqa-uniqa app``: a web page (Gradio) and an HTTP API over any metrics, models loaded once.

- ``command.py``: the command's flags, their checks, start-up;
- ``service.py``: the metrics and the scoring of a request (same numbers as ``score``);
- ``batcher.py``: the bounded queue and the worker that batches concurrent requests;
- ``limits.py``: request limits, image checks, the served folders;
- ``page.py``: the Score, Compare and Explore tabs and ``gradio_client``'s API; ``explore.py``: tables;
- ``api.py``: the JSON API; ``server.py``: one server for both;
- ``load_test.py``: a bounded load test against a server on the loopback address.

Needs the ``app`` extra (``pip install "pyiqa-uniqa[app]"``). See docs/app.md.
"""
import os

# Gradio reads this when it is imported: no usage statistics leave a user's machine.
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
