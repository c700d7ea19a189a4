"""Issue 15's abuse paths of invites, through the real service: addresses parsed strictly (a
display-name form is 422), invitation mail throttled per address (resend and revoke-and-reinvite
too; 429 with Retry-After), redemptions — where an 8-character legacy code could be guessed —
rate-limited per user and per client, and legacy codes expiring 90 days after a migration that
named no cut-over."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.testing import bearer, bearer_token, count, eventually, fetch, mails_to, service_db, sign_up

DISPLAY_NAME_FORMS = (
    "x<victim@corp.com>",
    '"Admin" <victim@corp.com>',
    "Victim <victim@corp.com>",
    "<victim@corp.com>",
    "a@b.co, victim@corp.com",
    "victim@corp.com (hi)",
)


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


@asynccontextmanager
async def client_from(services: Fleet, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a loopback address of its own (all of 127/8 is loopback): its own budget."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=services["invites"].url, transport=transport, timeout=10) as client:
        yield client


async def test_a_display_name_address_is_422_and_nothing_is_stored_or_sent(
    platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org()
    for address in DISPLAY_NAME_FORMS:
        answer = await invites_client.post(
            f"/v1/orgs/{team.org_id}/invitations",
            json={"email": address, "role": "trainee"},
            headers=team.admin_headers,
        )
        assert error_of(answer) == (422, "validation_error"), address
    stored = await count(
        platform,
        "invites",
        "SELECT count(*) FROM email_invitations WHERE org_id = $1",
        uuid.UUID(team.org_id),
    )
    assert stored == 0
    assert mails_to(platform, "victim@corp.com") == []


async def test_invitation_mail_to_one_address_is_throttled_resend_and_reinvite_too(
    platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org()
    base = f"/v1/orgs/{team.org_id}/invitations"
    address = f"target-{uuid.uuid4().hex[:10]}@example.com"
    created = await invites_client.post(
        base, json={"email": address, "role": "trainee"}, headers=team.admin_headers
    )
    assert created.status_code == 201, created.text
    invitation_id = created.json()["id"]
    for _ in range(4):  # INVITES_MAIL_PER_ADDRESS_PER_HOUR = 5: the invitation and four resends
        assert (
            await invites_client.post(f"{base}/{invitation_id}/resend", headers=team.admin_headers)
        ).is_success

    resent = await invites_client.post(f"{base}/{invitation_id}/resend", headers=team.admin_headers)
    assert error_of(resent) == (429, "rate_limited")
    assert 3500 < int(resent.headers["Retry-After"]) <= 3600
    assert (
        await invites_client.delete(f"{base}/{invitation_id}", headers=team.admin_headers)
    ).status_code == 204
    reinvited = await invites_client.post(
        base, json={"email": address, "role": "hr"}, headers=team.admin_headers
    )
    assert error_of(reinvited) == (429, "rate_limited")
    # A refused one is rolled back whole: no new invitation, no seat held.
    [only] = await fetch(
        service_db(platform, "invites"),
        "SELECT status FROM email_invitations WHERE org_id = $1",
        uuid.UUID(team.org_id),
    )
    assert only["status"] == "revoked"
    mailed = await eventually(
        lambda: asyncio.to_thread(mails_to, platform, address), until=lambda m: len(m) >= 5, what="5 emails"
    )
    assert len(mailed) == 5
    # Another address of the same org is not affected.
    other = await invites_client.post(
        base,
        json={"email": f"other-{uuid.uuid4().hex[:10]}@example.com", "role": "hr"},
        headers=team.admin_headers,
    )
    assert other.status_code == 201, other.text


async def test_guessing_codes_at_the_redemption_is_throttled_per_user(services: Fleet) -> None:
    guesser_id, _ = await sign_up(services)
    guesser = bearer(await bearer_token(services, guesser_id))
    async with client_from(services, "127.0.0.31") as client:
        for n in range(20):  # INVITES_REDEEM_RATE_LIMIT_PER_USER_PER_MINUTE
            answer = await client.post(f"/v1/invitation-links/G{n:07d}/redeem", headers=guesser)
            assert error_of(answer) == (404, "invitation_not_found")
        refused = await client.post("/v1/invitation-links/G0000020/redeem", headers=guesser)
    assert error_of(refused) == (429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


async def test_guessing_codes_with_many_accounts_is_throttled_per_client(services: Fleet) -> None:
    users = [(await sign_up(services))[0] for _ in range(4)]
    headers = [bearer(await bearer_token(services, user)) for user in users]
    async with client_from(services, "127.0.0.32") as client:
        for n in range(60):  # INVITES_PUBLIC_RATE_LIMIT_PER_MINUTE, 15 guesses per account
            answer = await client.post(f"/v1/invitation-links/H{n:07d}/redeem", headers=headers[n // 15])
            assert error_of(answer) == (404, "invitation_not_found"), n
        refused = await client.post("/v1/invitation-links/H0000060/redeem", headers=headers[3])
        public = await client.get("/invite/H0000061")
    assert error_of(refused) == (429, "rate_limited")
    assert error_of(public) == (429, "rate_limited")  # one budget for every route taking a code


async def run_migration(platform: Platform, *args: str) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": platform.database_url, "INVITES_PUBLIC_URL": "https://join.example"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "invites.legacy_codes", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_legacy_codes_expire_by_default_90_days_after_the_migration(
    platform: Platform, team_org: Any, invites_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    team = await team_org()
    code = uuid.uuid4().hex[:8].upper()
    csv = tmp_path / "codes.csv"
    later = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    csv.write_text(
        f"code,org_id,role,max_uses,current_uses,expires_at\n{code},{team.org_id},hr,5,0,{later}\n"
    )

    status, report = await run_migration(platform, "--csv", str(csv))

    assert status == 0, report
    cutover = date.today() + timedelta(days=90)
    assert f"cut-over: {cutover.isoformat()} (the default" in report
    [row] = await fetch(
        service_db(platform, "invites"),
        "SELECT slug, legacy_until FROM invitation_links WHERE legacy_code = $1",
        code,
    )
    assert row["legacy_until"] == datetime(cutover.year, cutover.month, cutover.day, tzinfo=UTC)
    assert (await invites_client.get(f"/invite/{code}")).status_code == 302

    # A code migrated before there was a default (no cut-over stored) stops 90 days after its
    # migration as well.
    await fetch(
        service_db(platform, "invites"),
        "UPDATE invitation_links SET legacy_until = NULL, created_at = now() - interval '91 days' "
        "WHERE legacy_code = $1",
        code,
    )
    gone = await invites_client.get(f"/invite/{code}")
    assert error_of(gone) == (404, "invitation_not_found")
    assert (await invites_client.get(f"/invite/{row['slug']}")).status_code == 302
