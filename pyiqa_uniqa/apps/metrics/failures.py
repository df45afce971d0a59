"""Turn an exception from creating or running a metric into a short, classified report line."""

# The status of one table cell (eval) or row (bench).
OK, MISSING_DATASET, MISSING_WEIGHTS, NOT_APPLICABLE, FAILED = (
    'ok', 'missing dataset', 'missing weights', 'not applicable', 'failed')

# Exception class names meaning "the weights could not be had" (offline, not cached, no such file).
_MISSING_WEIGHTS_ERRORS = {'WeightsNotFoundError', 'URLError', 'LocalEntryNotFoundError',
                           'OfflineModeIsEnabled', 'ConnectionError', 'FileNotFoundError',
                           'RepositoryNotFoundError', 'EntryNotFoundError', 'HTTPError'}


def describe_error(err):
    """``'TypeName: first line of the message'``."""
    lines = str(err).strip().splitlines()
    return f'{type(err).__name__}: {lines[0] if lines else ""}'.rstrip(': ')


def shorten(text, limit=240):
    """A message fit for a markdown table cell (the CSV keeps the full one)."""
    text = text.replace('|', '\\|').replace('\n', ' ')
    return text if len(text) <= limit else text[:limit - 1].rstrip() + '…'


def is_missing_weights(err):
    """True when ``err`` (or what caused it) says a weight file is absent or not downloadable."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if any(cls.__name__ in _MISSING_WEIGHTS_ERRORS for cls in type(err).__mro__):
            return True
        err = err.__cause__ or err.__context__
    return False
