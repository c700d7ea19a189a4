"""The legacy invite-code migration: one link per usable code, the same links and report on a
second run, and `/invite/{code}` redirecting like its link until the cut-over."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from devstack.platform import Platform
from devstack.postgres import database_url
from devstack.testing import fetch, service_db


async def run_migration(platform: Platform, *args: str) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": platform.database_url, "INVITES_PUBLIC_URL": "https://join.example"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "invites.legacy_codes",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    assert not err.strip() or process.returncode in (0, 1), err.decode()
    return process.returncode, out.decode()


def codes_csv(tmp_path: Path, rows: list[tuple[Any, ...]]) -> Path:
    path = tmp_path / "invite_codes.csv"
    lines = ["code,org_id,role,max_uses,current_uses,expires_at"]
    lines += [",".join(str(value) for value in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def code() -> str:
    return uuid.uuid4().hex[:8].upper()


async def test_migration_is_idempotent_and_codes_redirect_until_the_cutover(
    platform: Platform, team_org: Any, invites_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    team = await team_org()
    later = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    earlier = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    usable, open_ended, expired, used_up = code(), code(), code(), code()
    csv = codes_csv(
        tmp_path,
        [
            (usable, team.org_id, "tech", 5, 2, later),
            (open_ended, team.org_id, "client", 1, 0, ""),
            (expired, team.org_id, "trainee", 5, 0, earlier),
            (used_up, team.org_id, "trainee", 3, 3, later),
            ("BADROLE1", team.org_id, "owner", 1, 0, later),
            ("BADORG01", "not-a-uuid", "trainee", 1, 0, later),
        ],
    )
    cutover = (date.today() + timedelta(days=2)).isoformat()

    first = await run_migration(platform, "--csv", str(csv), "--cutover", cutover)
    second = await run_migration(platform, "--csv", str(csv), "--cutover", cutover)

    assert first == second
    status, report = first
    assert status == 1  # rows failed
    assert report.splitlines()[:3] == ["migrated: 2", "skipped: 2", "failed: 2"]
    assert f"skipped {expired}: expired" in report and f"skipped {used_up}: used up" in report
    links = await fetch(
        service_db(platform, "invites"),
        "SELECT legacy_code, slug, role, max_uses, current_uses FROM invitation_links WHERE org_id = $1",
        uuid.UUID(team.org_id),
    )
    by_code = {row["legacy_code"]: row for row in links}
    assert set(by_code) == {usable, open_ended}
    assert (by_code[usable]["role"], by_code[usable]["max_uses"], by_code[usable]["current_uses"]) == (
        "tech",
        5,
        2,
    )
    assert f"migrated {usable} -> https://join.example/invite/{by_code[usable]['slug']}" in report

    redirect = await invites_client.get(f"/invite/{usable}")
    assert redirect.status_code == 302
    assert redirect.headers["location"].endswith(f"?invitation={by_code[usable]['slug']}")
    assert (await invites_client.get(f"/invite/{expired}")).status_code == 404


async def test_after_the_cutover_a_code_no_longer_redirects_but_its_link_does(
    platform: Platform, team_org: Any, invites_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    team = await team_org()
    old = code()
    csv = codes_csv(tmp_path, [(old, team.org_id, "hr", 2, 0, "")])
    status, report = await run_migration(platform, "--csv", str(csv), "--cutover", date.today().isoformat())
    assert status == 0, report
    slug = report.split(f"migrated {old} -> https://join.example/invite/")[1].split()[0]
    gone = await invites_client.get(f"/invite/{old}")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "invitation_not_found")
    assert (await invites_client.get(f"/invite/{slug}")).status_code == 302


async def test_migration_reads_an_invite_codes_table(
    platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org()
    name = f"legacy_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url(platform.database_url, "postgres"))
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    source = database_url(platform.database_url, name)
    connection = await asyncpg.connect(source)
    first = code()
    try:
        await connection.execute(
            "CREATE TABLE invite_codes (code text, org_id uuid, role text, max_uses int, current_uses int, "
            "expires_at timestamptz)"
        )
        await connection.execute(
            "INSERT INTO invite_codes VALUES ($1, $2, 'manager', 3, 1, now() + interval '5 days')",
            first,
            uuid.UUID(team.org_id),
        )
    finally:
        await connection.close()

    runs = [await run_migration(platform, "--database-url", source) for _ in range(2)]

    assert runs[0] == runs[1]
    assert runs[0][0] == 0
    assert runs[0][1].splitlines()[:3] == ["migrated: 1", "skipped: 0", "failed: 0"]
    valid = (await invites_client.get(f"/v1/invitation-links/{first}")).json()
    assert (valid["valid"], valid["role"], valid["org_name"]) == (True, "manager", team.name)
