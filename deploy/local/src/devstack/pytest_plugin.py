"""Pytest fixtures that start the real platform once per test session.

The test platform uses its own ports (Kafka 19092, PostgreSQL 55432, services 18001-18005) and
its own data folder (`.local/test-run`, wiped at the start), so it never touches a running
`make run`. `DEVSTACK_TEST_PORT_OFFSET` shifts every test port. Nothing is skipped when a server
cannot start: the session fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from devstack.paths import local_dir
from devstack.platform import Platform, Ports
from devstack.services import Fleet

# DEVSTACK_TEST_PORT_OFFSET moves them all, so two test sessions can run side by side.
TEST_PORTS = Ports(
    kafka=19092, kafka_controller=19093, postgres=55432, smtp=18025, stripe=22111, service_offset=10000
).shifted(int(os.environ.get("DEVSTACK_TEST_PORT_OFFSET", "0")))
# The three purpose-split keys (API.md "Authentication"): product backends, token minting, operators.
TEST_SERVICE_KEY = "test-service-key-of-the-test-platform"
TEST_TOKEN_MINT_KEY = "test-token-mint-key-of-the-test-platform"
TEST_OPERATOR_KEY = "test-operator-key-of-the-test-platform"
TEST_AUTH_SECRET = "whsec_dGVzdC1hdXRoLXdlYmhvb2stc2VjcmV0LTEyMzQ="
TEST_SIGNING_KEY_PASSPHRASE = "test-signing-key-passphrase-of-the-test-platform"
# Fast retries in tests; production keeps the defaults in ServiceSettings.
TEST_ENV = {
    "PLATFORM_ENVIRONMENT": "test",
    "PLATFORM_SERVICE_KEY": TEST_SERVICE_KEY,
    "PLATFORM_TOKEN_MINT_KEY": TEST_TOKEN_MINT_KEY,
    "PLATFORM_OPERATOR_KEY": TEST_OPERATOR_KEY,
    "IDENTITY_AUTH_WEBHOOK_SECRET": TEST_AUTH_SECRET,
    "IDENTITY_SIGNING_KEY_PASSPHRASE": TEST_SIGNING_KEY_PASSPHRASE,
    # Tests rotate keys: a new key is published 2 s before it signs, and every verifier may
    # refetch the JWKS once a second (the delay must be at least the refetch interval).
    "PLATFORM_JWKS_REFETCH_INTERVAL_SECONDS": "1",
    "IDENTITY_KEY_PUBLISH_DELAY_SECONDS": "2",
    "BILLING_STRIPE_WEBHOOK_SECRET": "whsec_test_stripe_webhook_secret_of_the_platform",
    "BILLING_STRIPE_API_KEY": "sk_test_backbonetestplatform0123456789",
    # billing's lapse job (past-due grace, trial and cancelled-period ends) checks twice a second.
    "BILLING_LAPSE_CHECK_SECONDS": "0.5",
    "SKOOL_INGEST_WEBHOOK_SECRET": "test-skool-webhook-secret-of-the-platform",
}


@pytest.fixture(scope="session")
def platform() -> Iterator[Platform]:
    root = local_dir() / "test-run"
    shutil.rmtree(root, ignore_errors=True)
    started = Platform(
        root=root,
        ports=TEST_PORTS,
        durable=False,
        fresh=True,
        use_stripe_mock=True,
        log=lambda message: print(f"[platform] {message}", flush=True),
    )
    try:
        started.start_infrastructure()
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
def services(platform: Platform) -> Iterator[Fleet]:
    fleet = platform.start_services(extra_env=TEST_ENV)
    yield fleet
    fleet.stop()
