pytest_plugins = ["tests.conftest_standin", "tests.conftest_networks", "tests.helpers_ledger"]

import os

from hypothesis import settings

# CI replays the same examples every run, so a landing never depends on luck; a developer's runs keep
# exploring new ones (and hypothesis remembers any failure it finds in .hypothesis/).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
