pytest_plugins = ["tests.conftest_standin", "tests.conftest_networks", "tests.helpers_ledger"]

import os

import pytest
from hypothesis import settings

from scheduler.standins.x import StandinX
from tests.service_harness import Harness

# CI replays the same examples every run, so a landing never depends on luck; a developer's runs keep
# exploring new ones (and hypothesis remembers any failure it finds in .hypothesis/).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def harness(tmp_path):
    """A service harness over a fresh X stand-in, closed after the test (tests/service_harness.py)."""
    with StandinX() as standin:
        h = Harness(tmp_path, standin)
        try:
            yield h
        finally:
            h.close()
