"""Root conftest: every test directory shares the platform fixtures.

`shared` is imported first on purpose: pytest's importlib mode names `shared/tests/conftest.py`
`shared.tests.conftest` and would otherwise stand an empty `shared` module in for the real package.
"""

import os

import shared  # noqa: F401

# Settings built inside the test process itself (unit tests of a route, a gateway, a limiter)
# run as development; every service process gets its environment from its platform (the test
# platform's TEST_ENV says `test`, make run's says `development`). A service never guesses it.
os.environ.setdefault("PLATFORM_ENVIRONMENT", "development")

pytest_plugins = ["devstack.pytest_plugin"]
