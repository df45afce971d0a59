"""``pyiqa-uniqa protocol``: a paper's evaluation protocol in one command.

``request`` (what is asked, checked), ``splits`` (each dataset's protocol split file), ``plan`` (the
units and their training options), ``units`` (running them: processes, resume, the two selection
rules), ``manifest`` (the output folder's record), ``table``, ``figure`` and ``report`` (the results),
``command`` (the CLI).
"""
