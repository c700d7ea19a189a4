"""The example in the production profile (`DEVSTACK_PROFILE=production DEVSTACK_EXAMPLES=1 make
run`): its own SCRAM principal over TLS with only its ACLs, a password login to its own database,
the service key from the profile's secrets; a signup's features and a practice session work as in
development, and the principal is refused a topic it does not need. Its own production platform
(make run's ports moved by 1500 + DEVSTACK_TEST_PORT_OFFSET, files in .local), started through the
functions `devstack run` uses."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import TopicAuthorizationFailedError

from devstack.examples import ExampleApp, start_practice_app
from devstack.paths import local_dir
from devstack.profiles import ProductionPlatform, production_platform
from devstack.testing import eventually_blocking
from devstack.webhooks import clerk_user_created, signed_delivery
from shared.messaging.kafka_connection import KafkaConnection

OFFSET = 1500 + int(os.environ.get("DEVSTACK_TEST_PORT_OFFSET", "0"))


@dataclass(frozen=True)
class Running:
    started: ProductionPlatform
    app: ExampleApp

    def secret(self, name: str) -> str:
        return self.started.secrets.values[name]

    def call(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        fleet = self.started.platform.fleet
        assert fleet is not None
        with httpx.Client(base_url=fleet[service].url, timeout=15) as client:
            return client.request(method, path, **kwargs)


@pytest.fixture(scope="module")
def production() -> Iterator[Running]:
    root = local_dir() / "test-production-practice-app"
    shutil.rmtree(root, ignore_errors=True)
    started = production_platform(
        root=root,
        offset=OFFSET,
        log=lambda line: print(f"[production] {line}", flush=True),
        fresh=True,
        durable=False,
    )
    try:
        started.start()
        app = start_practice_app(started.platform, production=started.secrets)
        yield Running(started=started, app=app)
        started.platform.supervisor.unwatch(app.child)
        app.stop()
    finally:
        started.platform.stop()


def test_the_example_runs_on_its_own_principal_and_login_in_the_production_profile(
    production: Running,
) -> None:
    env = production.app.env
    assert (env["KAFKA_SECURITY_PROTOCOL"], env["PRACTICE_APP_KAFKA_USERNAME"]) == (
        "SASL_SSL",
        "practice-app",
    )
    assert env["PLATFORM_SERVICE_KEY"] == production.secret("PLATFORM_SERVICE_KEY")
    assert "PLATFORM_TOKEN_MINT_KEY" not in env and "PLATFORM_OPERATOR_KEY" not in env
    assert env["PRACTICE_APP_DATABASE_URL"].startswith("postgresql+asyncpg://practice_app:")

    user_id = f"user_{uuid.uuid4().hex[:20]}"
    payload = clerk_user_created(user_id=user_id, email=f"{user_id}@example.com", first_name="Ada")
    body, headers = signed_delivery(payload, secret=production.secret("IDENTITY_AUTH_WEBHOOK_SECRET"))
    assert (
        production.call("identity", "POST", "/v1/webhooks/auth", content=body, headers=headers).status_code
        == 200
    )
    mint = {"X-Service-Key": production.secret("PLATFORM_TOKEN_MINT_KEY")}
    minted = eventually_blocking(
        lambda: production.call("identity", "POST", "/v1/tokens", json={"user_id": user_id}, headers=mint),
        until=lambda answer: answer.status_code == 200,
        what="a token for the new user",
    )
    auth = {"Authorization": f"Bearer {minted.json()['access_token']}"}
    with httpx.Client(base_url=production.app.url, timeout=30) as app:
        features = eventually_blocking(
            lambda: app.get("/v1/me/features", headers=auth),
            until=lambda answer: answer.status_code == 200,
            what="the example learned the org's plan over SASL_SSL",
        )
        session = app.post("/v1/practice-sessions", headers=auth)
    assert features.json()["plan"] == "individual_free"
    assert session.status_code == 201 and session.json()["sessions"]["used"] == 1, session.text


def test_the_examples_principal_is_refused_a_topic_it_does_not_need(production: Running) -> None:
    env = production.app.env
    connection = KafkaConnection.from_env("PRACTICE_APP", env)

    async def read(topic: str) -> None:
        consumer = AIOKafkaConsumer(topic, **connection.client_kwargs(), request_timeout_ms=10000)
        try:
            await consumer.start()
            await consumer.getmany(timeout_ms=2000)
        finally:
            await consumer.stop()

    asyncio.run(read("billing.subscriptions"))  # the control: its own topic, same credentials
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(read("identity.users"))
