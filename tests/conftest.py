pytest_plugins = ["tests.conftest_standin"]
