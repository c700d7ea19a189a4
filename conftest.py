"""Root conftest: every test directory shares the platform fixtures.

`shared` is imported first on purpose: pytest's importlib mode names `shared/tests/conftest.py`
`shared.tests.conftest` and would otherwise stand an empty `shared` module in for the real package.
"""

import shared  # noqa: F401

pytest_plugins = ["devstack.pytest_plugin"]
