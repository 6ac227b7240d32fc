pytest_plugins = ["tests.conftest_standin", "tests.helpers_ledger"]
