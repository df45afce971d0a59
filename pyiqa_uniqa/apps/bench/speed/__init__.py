"""``pyiqa-uniqa bench``: load time, latency, throughput and memory of metrics (see ``command.py``)."""
