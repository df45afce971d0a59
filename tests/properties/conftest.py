"""Hypothesis profiles for the property suite, and its summary.

``ci`` (the default): seeded (``derandomize``), a bounded number of cases per property, no example
database: the same cases every run, a minute or two on an idle 2-core machine.
``long`` (``PYIQA_UNIQA_PROPERTIES=long pytest tests/properties``): random, many more cases each,
for an on-demand hunt; ``PYIQA_UNIQA_PROPERTY_CASES`` sets how many (default 5000).

After the run, a table gives each property's cases and their outcomes (a score, or each kind of
error of the project's family); a property that fails prints Hypothesis' minimal example.
"""
import os

import pytest
from hypothesis import HealthCheck, settings
from property_bounds import TALLY, start

_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.register_profile('ci', derandomize=True, max_examples=40, **_COMMON)
settings.register_profile('long', derandomize=False, max_examples=int(os.environ.get('PYIQA_UNIQA_PROPERTY_CASES', 5000)),
                          **_COMMON)
settings.load_profile(os.environ.get('PYIQA_UNIQA_PROPERTIES', 'ci'))


@pytest.fixture(autouse=True)
def _memory_measured_from_each_test():
    start()  # the memory bound counts what this property's cases take, not what earlier tests took


def pytest_terminal_summary(terminalreporter):
    if TALLY:
        terminalreporter.write_sep('-', 'property cases (outcome: count)')
        for name, outcomes in sorted(TALLY.items()):
            shown = ', '.join(f'{kind}: {count}' for kind, count in sorted(outcomes.items()))
            terminalreporter.write_line(f'{name}: {sum(outcomes.values())} cases ({shown})')
