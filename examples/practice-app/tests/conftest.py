"""The example app as a child of the test platform (started once per session, after the services)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.examples import ExampleApp, start_practice_app
from devstack.platform import Platform
from devstack.pytest_plugin import TEST_ENV
from devstack.services import Fleet


@pytest.fixture(scope="session")
def practice_app(platform: Platform, services: Fleet) -> Iterator[ExampleApp]:
    app = start_practice_app(platform, extra_env=TEST_ENV)
    yield app
    platform.supervisor.unwatch(app.child)
    app.stop()
