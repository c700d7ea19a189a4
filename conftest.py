"""Root conftest: every test directory shares the platform fixtures."""

pytest_plugins = ["devstack.pytest_plugin"]
