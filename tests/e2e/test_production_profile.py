"""The production profile (`DEVSTACK_PROFILE=production make run`), started and used as it runs.

This module starts its own platform through the very functions `devstack run` uses for the
profile (`production_platform(...).start()`): Kafka on SASL_SSL with SCRAM-SHA-512, TLS from the
platform's CA and ACLs derived from the code; PostgreSQL with password logins only; every service
in `PLATFORM_ENVIRONMENT=production` on fresh random secrets from its `secrets.env`. Ports are
`make run`'s moved by 1300 (+ DEVSTACK_TEST_PORT_OFFSET), files in `.local/test-production`.

It drives the seed flows through that platform (a signup to claims, an invitation link, a signed
Stripe webhook, a Skool delivery, the operator commands) and shows what the profile refuses: a
plaintext or unauthenticated Kafka client, a service principal outside its ACLs, a database
login outside its own database, and a service given a development secret. Every credential is
read from the generated secrets file, as a caller would.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from devstack.kafka import TOPICS
from devstack.partitions import PRODUCTION_PARTITIONS
from devstack.paths import local_dir
from devstack.production_secrets import (
    POSTGRES_SUPERUSER_PASSWORD,
    read_env_file,
)
from devstack.profiles import ProductionPlatform, production_platform
from devstack.services import SERVICES
from devstack.stripe_mock import sign_stripe_payload
from devstack.testing import eventually_blocking
from devstack.webhooks import clerk_user_created, signed_delivery
from shared.messaging.kafka_connection import KafkaConnection
from shared.settings import DEV_STRIPE_WEBHOOK_SECRET, DEVELOPMENT_SECRETS, MIN_SECRET_BYTES
from skool_ingest.signature import HEADER, sign

OFFSET = 1300 + int(os.environ.get("DEVSTACK_TEST_PORT_OFFSET", "0"))
ROOT_NAME = "test-production"
DEVSTACK = str(Path(sys.executable).with_name("devstack"))
# What the issue says a caller finds in the file (besides each service's Kafka login).
CALLER_SETTINGS = (
    "PLATFORM_SERVICE_KEY",
    "PLATFORM_TOKEN_MINT_KEY",
    "PLATFORM_OPERATOR_KEY",
    "IDENTITY_AUTH_WEBHOOK_SECRET",
    "BILLING_STRIPE_WEBHOOK_SECRET",
    "SKOOL_INGEST_WEBHOOK_SECRET",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SSL_CAFILE",
)


def _log(message: str) -> None:
    print(f"[production platform] {message}", flush=True)


@dataclass(frozen=True)
class Production:
    started: ProductionPlatform

    @property
    def values(self) -> dict[str, str]:
        """The secrets file as a caller reads it."""
        return read_env_file(self.started.secrets.path)

    def url(self, service: str) -> str:
        fleet = self.started.platform.fleet
        assert fleet is not None
        return fleet[service].url

    def call(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with httpx.Client(base_url=self.url(service), timeout=15) as client:
            return client.request(method, path, **kwargs)

    def key(self, variable: str) -> dict[str, str]:
        return {"X-Service-Key": self.values[variable]}

    def kafka(self, prefix: str) -> KafkaConnection:
        """The Kafka connection of the service (or operator) with this env prefix."""
        return KafkaConnection.from_env(prefix, self.values)

    def sign_up(self, *, email: str | None = None, invitation: str | None = None) -> str:
        user_id = f"user_{uuid.uuid4().hex[:20]}"
        payload = clerk_user_created(
            user_id=user_id,
            email=email or unique_email("ada"),
            first_name="Ada",
            pending_invitation=invitation,
        )
        body, headers = signed_delivery(payload, secret=self.values["IDENTITY_AUTH_WEBHOOK_SECRET"])
        posted = self.call("identity", "POST", "/v1/webhooks/auth", content=body, headers=headers)
        assert posted.status_code == 200, posted.text
        return user_id

    def claims(self, user_id: str) -> dict[str, Any]:
        answer = self.call(
            "identity", "GET", f"/v1/users/{user_id}/claims", headers=self.key("PLATFORM_SERVICE_KEY")
        )
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def complete_claims(self, user_id: str) -> dict[str, Any]:
        found: dict[str, Any] = eventually_blocking(
            lambda: self.claims(user_id), until=lambda c: bool(c["plan"]), what=f"claims of {user_id}"
        )
        return found

    def token(self, user_id: str, org_id: str | None = None) -> dict[str, str]:
        body = {"user_id": user_id, **({"org_id": org_id} if org_id else {})}
        minted = self.call(
            "identity", "POST", "/v1/tokens", json=body, headers=self.key("PLATFORM_TOKEN_MINT_KEY")
        )
        assert minted.status_code == 200, minted.text
        return {"Authorization": f"Bearer {minted.json()['access_token']}"}

    def devstack(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A `devstack` operator command in a shell that sourced the secrets file."""
        return subprocess.run(
            [DEVSTACK, *args],
            env={**os.environ, **self.values, "DEVSTACK_PORT_OFFSET": str(OFFSET)},
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def production() -> Iterator[Production]:
    root = local_dir() / ROOT_NAME
    shutil.rmtree(root, ignore_errors=True)
    started = production_platform(root=root, offset=OFFSET, log=_log, fresh=True, durable=False)
    try:
        started.start()
        yield Production(started=started)
    finally:
        started.platform.stop()


def unique_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


# --- the secrets file ------------------------------------------------------------------------


def test_the_secrets_file_is_private_and_holds_fresh_secrets_and_every_client_setting(
    production: Production,
) -> None:
    path = production.started.secrets.path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = production.values
    for name in CALLER_SETTINGS:
        assert values.get(name), name
    for spec in SERVICES:
        assert values[f"{spec.env_prefix}_KAFKA_USERNAME"] == spec.name
        assert values[f"{spec.env_prefix}_KAFKA_PASSWORD"]
    assert values["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert values["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert Path(values["KAFKA_SSL_CAFILE"]).is_file()
    secrets = [value for name, value in values.items() if "KEY" in name or "SECRET" in name]
    secrets += [value for name, value in values.items() if name.endswith("PASSWORD")]
    for secret in secrets:
        assert secret not in DEVELOPMENT_SECRETS and len(secret.encode()) >= MIN_SECRET_BYTES


# --- the seed flows on the production posture --------------------------------------------------


async def test_every_topic_has_the_production_profiles_twelve_partitions(production: Production) -> None:
    """docs/partitions.md: 12 per topic in the production profile (3 stays in development)."""
    every = [*TOPICS, *(f"{topic}.dlq" for topic in TOPICS)]
    admin = AIOKafkaAdminClient(**production.started.platform.kafka_connection().client_kwargs())
    await admin.start()
    try:
        described = await admin.describe_topics(every)
    finally:
        await admin.close()
    counts = {topic["topic"]: len(topic["partitions"]) for topic in described}
    assert counts == dict.fromkeys(every, PRODUCTION_PARTITIONS)


def test_a_signup_reaches_complete_claims(production: Production) -> None:
    user_id = production.sign_up()

    claims = production.complete_claims(user_id)

    assert claims["is_personal_org"] is True and claims["plan"] == "individual_free"


def test_an_invitation_link_brings_a_second_person_into_the_team(production: Production) -> None:
    admin = production.sign_up()
    production.complete_claims(admin)
    token = production.token(admin)
    team = production.call(
        "workspace",
        "POST",
        "/v1/orgs",
        json={"name": "Ada Sales", "slug": f"ada-sales-{uuid.uuid4().hex[:8]}"},
        headers=token,
    )
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    link = production.call(
        "invites",
        "POST",
        f"/v1/orgs/{team_id}/invitation-links",
        json={"role": "manager", "max_uses": 5},
        headers=token,
    )
    assert link.status_code == 201, link.text

    grace = production.sign_up(invitation=link.json()["slug"])

    claims = production.complete_claims(grace)
    assert (claims["org_id"], claims["org_role"], claims["is_personal_org"]) == (team_id, "manager", False)


def test_a_signed_stripe_webhook_upgrades_the_plan_and_one_signed_with_a_dev_secret_is_refused(
    production: Production,
) -> None:
    user_id = production.sign_up()
    org_id = production.complete_claims(user_id)["org_id"]
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "customer.subscription.created",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": f"sub_{uuid.uuid4().hex[:14]}",
                "object": "subscription",
                "customer": f"cus_{uuid.uuid4().hex[:10]}",
                "status": "active",
                "cancel_at_period_end": False,
                "current_period_end": int(time.time()) + 30 * 86400,
                "metadata": {"org_id": org_id},
                "items": {"object": "list", "data": [{"price": {"id": "price_individual_pro_month"}}]},
            }
        },
    }
    body = json.dumps(event).encode()

    def deliver(secret: str) -> httpx.Response:
        signature = sign_stripe_payload(body, secret=secret)
        return production.call(
            "billing",
            "POST",
            "/v1/webhooks/stripe",
            content=body,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )

    forged = deliver(DEV_STRIPE_WEBHOOK_SECRET)
    assert forged.status_code == 400, forged.text
    delivered = deliver(production.values["BILLING_STRIPE_WEBHOOK_SECRET"])
    assert delivered.status_code == 200 and delivered.json()["status"] == "processed", delivered.text
    eventually_blocking(
        lambda: production.claims(user_id),
        until=lambda c: c["plan"] == "individual_pro",
        what="the upgrade in the claims",
    )


def test_a_skool_delivery_makes_a_business_workspace(production: Production) -> None:
    sam_email = unique_email("sam")
    body = json.dumps(
        {
            "event": "member.subscribed",
            "email": sam_email,
            "first_name": "Sam",
            "community_id": "closers-club",
            "occurred_at": "2026-11-01T09:00:00Z",
        }
    ).encode()
    secret = production.values["SKOOL_INGEST_WEBHOOK_SECRET"]
    signature = sign(secret=secret, timestamp=int(time.time()), body=body)
    headers = {HEADER: signature, "content-type": "application/json"}

    delivered = production.call("skool-ingest", "POST", "/v1/webhooks/skool", content=body, headers=headers)

    assert delivered.status_code == 202, delivered.text
    sam = production.sign_up(email=sam_email)
    claims = eventually_blocking(
        lambda: production.claims(sam), until=lambda c: c["plan"] == "business", what="Sam's business org"
    )
    assert claims["org_role"] == "admin" and claims["is_personal_org"] is False


def test_the_operator_commands_work_with_the_operator_credentials(production: Production) -> None:
    user_id = production.sign_up()
    production.complete_claims(user_id)

    timeline = eventually_blocking(
        lambda: production.devstack("trace", user_id),
        until=lambda done: done.returncode == 0 and "consumed by identity" in done.stdout,
        what="the signup in the operator's timeline",
    )
    assert f"timeline of {user_id}" in timeline.stdout
    status = production.devstack("status")
    assert status.returncode == 0, status.stdout + status.stderr
    letters = production.devstack("dlq", "list", "identity.users")
    assert letters.returncode == 0, letters.stdout + letters.stderr
    assert "0 dead letter(s) on identity.users.dlq" in letters.stdout, letters.stdout


# --- what the profile refuses: Kafka -----------------------------------------------------------


async def _start_producer(connection: KafkaConnection) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(**connection.client_kwargs(), request_timeout_ms=5000)
    await producer.start()
    return producer


@pytest.mark.parametrize("how", ["plaintext", "no credentials", "a wrong password", "no trusted CA"])
async def test_a_kafka_client_that_is_not_a_known_principal_over_tls_is_refused(
    production: Production, how: str
) -> None:
    billing = production.kafka("BILLING")
    refused = {
        "plaintext": KafkaConnection(bootstrap_servers=billing.bootstrap_servers),
        "no credentials": KafkaConnection(
            bootstrap_servers=billing.bootstrap_servers,
            security_protocol="SSL",
            ssl_cafile=billing.ssl_cafile,
        ),
        "a wrong password": replace(billing, password=f"{billing.password}x"),
        "no trusted CA": replace(billing, ssl_cafile=None),
    }[how]
    producer = AIOKafkaProducer(**refused.client_kwargs(), request_timeout_ms=5000)
    with pytest.raises((KafkaError, OSError)):
        try:
            await producer.start()
            await producer.send_and_wait("billing.subscriptions", b"{}", key=b"probe")
        finally:
            await producer.stop()


async def test_billing_may_not_write_another_services_topic_nor_read_a_topic_it_does_not_consume(
    production: Production,
) -> None:
    billing = production.kafka("BILLING")
    producer = await _start_producer(billing)
    try:
        for topic in ("invites.invitations", "identity.users"):
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(topic, b"{}", key=b"forged")
    finally:
        await producer.stop()
    # Subscribed without a group: reading must not join (and rebalance) the live billing group.
    consumer = AIOKafkaConsumer(
        "invites.invitations",
        **billing.client_kwargs(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    with pytest.raises(TopicAuthorizationFailedError):
        try:
            await consumer.start()
            await asyncio.wait_for(consumer.getmany(timeout_ms=3000), timeout=20)
        finally:
            await consumer.stop()


# --- what the profile refuses: PostgreSQL ------------------------------------------------------


def _with_database(url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + database


async def test_identitys_database_logins_cannot_connect_to_billings_database(production: Production) -> None:
    for variable in ("IDENTITY_DATABASE_URL", "IDENTITY_DATABASE_MIGRATION_URL"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(_with_database(production.values[variable], "billing"))
    own = await asyncpg.connect(production.values["IDENTITY_DATABASE_URL"])
    await own.close()


async def test_every_service_runs_on_its_own_traffic_login_and_none_on_a_superuser(
    production: Production,
) -> None:
    values = production.values
    superuser = values["IDENTITY_DATABASE_URL"].split("@", 1)[1].rsplit("/", 1)[0]
    password = values[POSTGRES_SUPERUSER_PASSWORD]
    connection = await asyncpg.connect(f"postgresql://backbone:{password}@{superuser}/postgres")
    try:
        sessions = await connection.fetch(
            "SELECT a.datname, a.usename, r.rolsuper FROM pg_stat_activity a JOIN pg_roles r"
            " ON r.rolname = a.usename WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    by_database: dict[str, set[str]] = {}
    for session in sessions:
        assert not session["rolsuper"], dict(session)
        by_database.setdefault(session["datname"], set()).add(session["usename"])
    for spec in SERVICES:
        database = spec.name.replace("-", "_")
        assert by_database.get(database) == {f"{database}_app"}, by_database


# --- what the profile refuses: a service on a development secret ---------------------------------


def test_a_service_given_a_development_secret_in_production_does_not_start(production: Production) -> None:
    billing = next(spec for spec in SERVICES if spec.name == "billing")
    env = {
        **{
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("BILLING_", "PLATFORM_"))
        },
        **production.started.secrets.service_env(billing),
        "PLATFORM_ENVIRONMENT": "production",
        "BILLING_PORT": str(9390 + OFFSET),
        "BILLING_STRIPE_WEBHOOK_SECRET": DEV_STRIPE_WEBHOOK_SECRET,
    }

    started = subprocess.run(
        [sys.executable, "-m", "billing"], env=env, capture_output=True, text=True, timeout=60
    )

    assert started.returncode == 2, started.stdout + started.stderr
    assert "BILLING_STRIPE_WEBHOOK_SECRET" in started.stderr
    assert DEV_STRIPE_WEBHOOK_SECRET not in started.stderr + started.stdout
