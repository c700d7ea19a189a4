"""The README's hand-run flows, on a platform started with `make run`'s own development settings.

The test session's platform runs on TEST_ENV (its own keys, secrets and Stripe key); a default
that only `make run` uses would break unseen there — as the development Stripe key did, which
stripe-mock refused (every checkout on `make run` answered 502). So this module starts a second
platform through the very functions `devstack run` uses (`development_platform`,
`start_development_platform`: the same Platform, stripe-mock decision and service environment),
with ports moved by its own offset and files in `.local/make-run-flows`, and nothing of TEST_ENV.
Every credential below is a development default imported by name from the settings modules
(shared.settings for the three service keys), as the README's curl lines spell them out. Each
flow is replayed as the README runs it: HTTP calls (httpx for curl) and the `devstack` commands
as subprocesses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pytest
from svix.webhooks import Webhook

from billing.settings import DEV_STRIPE_API_KEY
from devstack.cli import (
    development_env,
    development_platform,
    print_configuration,
    start_development_platform,
)
from devstack.paths import local_dir
from devstack.platform import Platform
from devstack.services import Fleet
from devstack.stripe_mock import DEV_STRIPE_API_KEYS
from devstack.testing import eventually_blocking
from identity.settings import DEV_AUTH_WEBHOOK_SECRET
from shared.settings import DEV_OPERATOR_KEY, DEV_SERVICE_KEY, DEV_TOKEN_MINT_KEY
from skool_ingest.settings import DEV_WEBHOOK_SECRET as DEV_SKOOL_WEBHOOK_SECRET

# `make run`'s ports moved by this offset (Kafka 9692, PostgreSQL 54929, SMTP 8625, stripe-mock
# 12711, services 8601-8605, + DEVSTACK_TEST_PORT_OFFSET): clear of `make run` (0, 100), the chaos
# run (400), the bench (500) and every test platform (ports 18001 and up).
OFFSET = 600 + int(os.environ.get("DEVSTACK_TEST_PORT_OFFSET", "0"))
ROOT_NAME = "make-run-flows"
DEVSTACK = str(Path(sys.executable).with_name("devstack"))
# What a developer's shell running `make run` does not hold: anything that would replace a
# development default or point the platform elsewhere.
NOT_IN_A_DEVELOPERS_SHELL = ("PLATFORM_", "IDENTITY_", "WORKSPACE_", "BILLING_", "INVITES_", "SKOOL_INGEST_")
NOT_IN_A_DEVELOPERS_SHELL_EXACTLY = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "SMTP_HOST", "SMTP_PORT")

SERVICE_KEY = {"X-Service-Key": DEV_SERVICE_KEY}
MINT_KEY = {"X-Service-Key": DEV_TOKEN_MINT_KEY}
OPERATOR_KEY = {"X-Service-Key": DEV_OPERATOR_KEY}


def _log(message: str) -> None:
    print(f"[make-run platform] {message}", flush=True)


@dataclass(frozen=True)
class DevPlatform:
    platform: Platform
    fleet: Fleet

    def url(self, service: str) -> str:
        return self.fleet[service].url

    def call(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with httpx.Client(base_url=self.url(service), timeout=15) as client:
            return client.request(method, path, **kwargs)

    @property
    def mail_folder(self) -> Path:
        return self.platform.root / "mail"

    def devstack(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A `devstack` command as the README runs it, in a shell with DEVSTACK_PORT_OFFSET set."""
        return subprocess.run(
            [DEVSTACK, *args],
            env={**_developer_environ(), "DEVSTACK_PORT_OFFSET": str(OFFSET)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def sign_up(self, email: str, first_name: str, *, invitation: str | None = None) -> str:
        """`devstack signup --email … --first-name … [--invitation …]`; the new user's id."""
        user_id = f"user_{uuid.uuid4().hex[:20]}"
        args = ["signup", "--email", email, "--first-name", first_name, "--user-id", user_id]
        args += ["--identity", self.url("identity")] + ([f"--invitation={invitation}"] if invitation else [])
        signed_up = self.devstack(*args)
        assert signed_up.returncode == 0, signed_up.stdout + signed_up.stderr
        assert "POST /v1/webhooks/auth -> 200" in signed_up.stdout, signed_up.stdout
        return user_id

    def claims(self, user_id: str) -> dict[str, Any]:
        answer = self.call("identity", "GET", f"/v1/users/{user_id}/claims", headers=SERVICE_KEY)
        assert answer.status_code == 200, answer.text
        claims: dict[str, Any] = answer.json()
        return claims

    def token(self, user_id: str, org_id: str | None = None) -> dict[str, str]:
        """The README's `token()`: minted with the token-mint key; the bearer header."""
        body = {"user_id": user_id, **({"org_id": org_id} if org_id else {})}
        minted = self.call("identity", "POST", "/v1/tokens", json=body, headers=MINT_KEY)
        assert minted.status_code == 200, minted.text
        return {"Authorization": f"Bearer {minted.json()['access_token']}"}


def _developer_environ() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(NOT_IN_A_DEVELOPERS_SHELL) and name not in NOT_IN_A_DEVELOPERS_SHELL_EXACTLY
    }


@pytest.fixture(scope="module")
def dev() -> Iterator[DevPlatform]:
    root = local_dir() / ROOT_NAME
    shutil.rmtree(root, ignore_errors=True)
    with pytest.MonkeyPatch.context() as patch:
        for name in set(os.environ) - set(_developer_environ()):
            patch.delenv(name)
        platform = development_platform(root=root, offset=OFFSET, log=_log)
        try:
            fleet = start_development_platform(platform)
            yield DevPlatform(platform=platform, fleet=fleet)
        finally:
            platform.stop()


def mail_to(dev: DevPlatform, address: str) -> bytes:
    """The one message in the sink's folder for `address` (waits for it)."""

    def messages() -> list[bytes]:
        found = []
        for path in sorted(dev.mail_folder.glob("*.eml")):
            raw = path.read_bytes()
            if address in str(message_from_bytes(raw).get("X-Envelope-To") or ""):
                found.append(raw)
        return found

    found: list[bytes] = eventually_blocking(
        messages, until=lambda found: len(found) == 1, what=f"one mail to {address}"
    )
    return found[0]


def complete_claims(dev: DevPlatform, user_id: str) -> dict[str, Any]:
    claims: dict[str, Any] = eventually_blocking(
        lambda: dev.claims(user_id), until=lambda found: bool(found["plan"]), what=f"claims of {user_id}"
    )
    return claims


def unique_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def workspaces(dev: DevPlatform, token: dict[str, str]) -> dict[str, Any]:
    listed = dev.call("workspace", "GET", "/v1/me/workspaces", headers=token)
    assert listed.status_code == 200, listed.text
    found: dict[str, Any] = listed.json()
    return found


# --- the settings themselves ----------------------------------------------------------------


def test_make_run_says_it_starts_stripe_mock_and_gives_billing_a_key_stripe_mock_accepts(
    dev: DevPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    print_configuration()
    printed = next(line for line in capsys.readouterr().out.splitlines() if "BILLING_STRIPE_API_KEY=" in line)

    assert dev.platform.stripe_mock is not None  # the development key starts stripe-mock
    assert "no stripe-mock" not in printed and "stripe-mock is started" in printed
    assert DEV_STRIPE_API_KEY in printed and DEV_STRIPE_API_KEY in DEV_STRIPE_API_KEYS
    # The earlier placeholder is still a development key, and billing gets the current one.
    assert "sk_test_dev_placeholder" in DEV_STRIPE_API_KEYS
    assert development_env({"BILLING_STRIPE_API_KEY": "sk_test_dev_placeholder"}) == {
        "PLATFORM_ENVIRONMENT": "development",
        "BILLING_STRIPE_API_KEY": DEV_STRIPE_API_KEY,
    }
    assert development_env({"BILLING_STRIPE_API_KEY": "sk_live_real"}) == {
        "PLATFORM_ENVIRONMENT": "development"
    }
    # make run says which environment it is (a service refuses to guess); the shell may say another.
    assert development_env({"PLATFORM_ENVIRONMENT": "production"}) == {"PLATFORM_ENVIRONMENT": "production"}


# --- "Try a signup by hand" -------------------------------------------------------------------


def test_a_signup_with_the_cli_and_one_signed_by_hand_get_personal_claims(dev: DevPlatform) -> None:
    by_cli = dev.sign_up(unique_email("ada"), "Ada")

    user_id = f"user_{uuid.uuid4().hex[:20]}"
    body = json.dumps(
        {
            "type": "user.created",
            "object": "event",
            "data": {
                "id": user_id,
                "first_name": "Ada",
                "email_addresses": [{"id": "e1", "email_address": unique_email("ada")}],
                "primary_email_address_id": "e1",
                "public_metadata": {},
                "updated_at": 1,
            },
        }
    )
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    signature = Webhook(DEV_AUTH_WEBHOOK_SECRET).sign(msg_id, now, body)
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": signature,
        "content-type": "application/json",
    }
    posted = dev.call("identity", "POST", "/v1/webhooks/auth", content=body, headers=headers)
    assert posted.status_code == 200, posted.text
    assert posted.json()["status"] == "processed"

    for signed_up in (by_cli, user_id):
        claims = complete_claims(dev, signed_up)
        assert claims["is_personal_org"] is True
        assert claims["plan"] == "individual_free"
        assert claims["org_role"] == "trainee"


# --- "Tokens, team workspaces, conversion and the switcher by hand", and checkout ------------


def test_tokens_checkout_a_team_org_conversion_and_a_key_rotation(dev: DevPlatform) -> None:
    user_id = dev.sign_up(unique_email("ada"), "Ada")
    jwks = dev.call("identity", "GET", "/.well-known/jwks.json")
    assert jwks.status_code == 200 and jwks.json()["keys"]
    token = dev.token(user_id)

    context = dev.call("workspace", "GET", "/v1/me/context", headers=token)
    assert context.status_code == 200, context.text
    assert context.json()["is_personal"] is True
    titles = [item["title"] for item in context.json()["navigation"]]
    assert "Team" not in titles and "Billing" in titles
    personal = context.json()["org"]["id"]

    # The flow that failed on `make run`: stripe-mock refused the development key (502).
    checkout = dev.call(
        "billing",
        "POST",
        f"/v1/orgs/{personal}/checkout",
        json={"plan": "individual_pro", "interval": "month"},
        headers=token,
    )
    assert checkout.status_code == 200, checkout.text
    assert checkout.json()["url"] and checkout.json()["session_id"]
    portal = dev.call("billing", "POST", f"/v1/orgs/{personal}/portal", headers=token)
    assert portal.status_code == 200, portal.text

    team_slug = f"ada-sales-{uuid.uuid4().hex[:8]}"
    created = dev.call(
        "workspace", "POST", "/v1/orgs", json={"name": "Ada Sales", "slug": team_slug}, headers=token
    )
    assert created.status_code == 201, created.text
    listed = workspaces(dev, token)
    assert len(listed["workspaces"]) == 2 and listed["show_switcher"] is True

    coaching = f"ada-coaching-{uuid.uuid4().hex[:8]}"
    converted = dev.call(
        "workspace",
        "POST",
        f"/v1/orgs/{personal}/convert",
        json={"name": "Ada Coaching", "slug": coaching},
        headers={**token, "Idempotency-Key": "k1"},
    )
    assert converted.status_code == 200, converted.text
    assert converted.json()["is_personal"] is False
    claims = eventually_blocking(
        lambda: dev.claims(user_id),
        until=lambda c: c["org_id"] == personal and c["is_personal_org"] is False,
        what="claims of the converted org",
    )
    assert claims["org_role"] == "admin"

    rotated = subprocess.run(
        [sys.executable, "-m", "identity.keys", "rotate"],
        # As the README says it: the tool runs with make run's environment, named explicitly.
        env={
            **_developer_environ(),
            "PLATFORM_ENVIRONMENT": "development",
            "DATABASE_URL": dev.platform.database_url,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    published = eventually_blocking(
        lambda: dev.call("identity", "GET", "/.well-known/jwks.json").json()["keys"],
        until=lambda keys: len(keys) >= 2,
        what="the new key published beside the old one",
    )
    assert len(published) >= 2
    still = dev.call("workspace", "GET", "/v1/me/workspaces", headers=dev.token(user_id))
    assert still.status_code == 200, still.text


# --- "The invitation flow" --------------------------------------------------------------------


def test_an_invitation_link_and_an_email_invitation_bring_two_people_into_the_team(dev: DevPlatform) -> None:
    admin = dev.sign_up(unique_email("ada"), "Ada")
    token = dev.token(admin)
    team = dev.call(
        "workspace",
        "POST",
        "/v1/orgs",
        json={"name": "Ada Sales", "slug": f"ada-sales-{uuid.uuid4().hex[:8]}"},
        headers=token,
    )
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]

    link = dev.call(
        "invites",
        "POST",
        f"/v1/orgs/{team_id}/invitation-links",
        json={"role": "manager", "max_uses": 5},
        headers=token,
    )
    assert link.status_code == 201, link.text
    slug = link.json()["slug"]
    shown = dev.call("invites", "GET", f"/v1/invitation-links/{slug}")
    assert shown.status_code == 200 and shown.json()["valid"] is True, shown.text
    opened = dev.call("invites", "GET", f"/invite/{slug}")
    assert opened.status_code == 302 and f"invitation={slug}" in opened.headers["location"]

    grace = dev.sign_up(unique_email("grace"), "Grace", invitation=slug)
    claims = complete_claims(dev, grace)
    assert (claims["org_id"], claims["org_role"], claims["is_personal_org"]) == (team_id, "manager", False)

    linus_email = unique_email("linus")
    invited = dev.call(
        "invites",
        "POST",
        f"/v1/orgs/{team_id}/invitations",
        json={"email": linus_email, "role": "trainee"},
        headers=token,
    )
    assert invited.status_code == 201, invited.text
    mail = mail_to(dev, linus_email)  # in the sink's folder, its accept link inside
    assert re.search(rb"\?token=[A-Za-z0-9_\-]+", mail), mail

    linus = dev.sign_up(linus_email, "Linus")
    claims = complete_claims(dev, linus)
    assert (claims["org_id"], claims["org_role"]) == (team_id, "trainee")


# --- "Skool deliveries" -----------------------------------------------------------------------


def test_a_skool_delivery_signed_with_the_dev_secret_makes_a_business_workspace(dev: DevPlatform) -> None:
    sam_email = unique_email("sam")
    body = json.dumps(
        {
            "event": "member.subscribed",
            "email": sam_email,
            "first_name": "Sam",
            "community_id": "closers-club",
            "occurred_at": "2026-11-01T09:00:00Z",
        }
    )
    stamp = int(time.time())
    digest = hmac.new(
        DEV_SKOOL_WEBHOOK_SECRET.encode(), f"{stamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    headers = {"Skool-Signature": f"t={stamp},v1={digest}", "content-type": "application/json"}

    delivered = dev.call("skool-ingest", "POST", "/v1/webhooks/skool", content=body, headers=headers)

    assert delivered.status_code == 202 and delivered.json()["status"] == "accepted", delivered.text
    assert mail_to(dev, sam_email)  # the welcome email (no account yet)
    sam = dev.sign_up(sam_email, "Sam")
    claims = eventually_blocking(
        lambda: dev.claims(sam), until=lambda c: c["plan"] == "business", what="Sam's business workspace"
    )
    assert claims["org_role"] == "admin" and claims["is_personal_org"] is False
    rejections = dev.call("skool-ingest", "GET", "/v1/webhooks/skool/rejections", headers=OPERATOR_KEY)
    assert rejections.status_code == 200, rejections.text


# --- "Operating it": trace, status, dead letters -----------------------------------------------


def test_trace_status_and_dead_letters_answer_with_the_operator_commands(dev: DevPlatform) -> None:
    user_id = dev.sign_up(unique_email("ada"), "Ada")

    def traced() -> subprocess.CompletedProcess[str]:
        return dev.devstack("trace", user_id)

    timeline = eventually_blocking(
        traced,
        until=lambda done: done.returncode == 0 and "consumed by identity" in done.stdout,
        what="the whole signup in the timeline",
    )
    assert f"timeline of {user_id}" in timeline.stdout
    assert "auth webhook" in timeline.stdout and "NOT consumed" not in timeline.stdout
    as_json = dev.devstack("trace", user_id, "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout), as_json.stderr
    nobody = dev.devstack("trace", unique_email("nobody"))
    assert nobody.returncode == 0 and "nothing found for" in nobody.stdout, nobody.stdout + nobody.stderr

    bootstrap = dev.platform.kafka_bootstrap
    status = dev.devstack("status", "--bootstrap", bootstrap, "--database-url", dev.platform.database_url)
    assert status.returncode == 0, status.stdout + status.stderr
    for topic in ("identity.users", "workspace.orgs", "billing.subscriptions"):
        letters = dev.devstack("dlq", "list", topic, "--bootstrap", bootstrap)
        assert letters.returncode == 0, letters.stdout + letters.stderr
        assert f"0 dead letter(s) on {topic}.dlq" in letters.stdout, letters.stdout
