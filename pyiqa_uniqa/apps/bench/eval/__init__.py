"""``pyiqa-uniqa eval``: metrics against MOS on pyiqa datasets (see ``command.py``)."""
