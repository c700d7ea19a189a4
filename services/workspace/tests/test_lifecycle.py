"""Lifecycle: idle personal orgs are archived (data kept) and come back; a deleted user's
memberships end without leaving a team org adminless."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import asyncpg

from devstack.platform import Platform
from devstack.testing import count, fetch, service_db
from shared.db.session import Database
from workspace.archiver import Archiver
from workspace.models import Role
from workspace.service.context import list_workspaces, user_context
from workspace.service.lifecycle import remove_deleted_user
from workspace.service.members import list_members
from workspace.service.orgs import get_org

from .factories import new_team, new_user, new_users, personal_org_of

THRESHOLD = timedelta(days=90)


async def make_idle(platform: Platform, org_id: uuid.UUID, *, days: int) -> None:
    """Pretend nobody used the org for `days` (as the table owner: a test's time machine)."""
    connection = await asyncpg.connect(service_db(platform, "workspace"))
    try:
        await connection.execute(
            "UPDATE orgs SET last_active_at = now() - make_interval(days => $2) WHERE id = $1", org_id, days
        )
    finally:
        await connection.close()


async def org_events(platform: Platform, org_id: uuid.UUID) -> list[tuple[str, dict[str, object]]]:
    rows = await fetch(
        service_db(platform, "workspace"),
        "SELECT event_type, value FROM outbox WHERE key = $1 ORDER BY position",
        str(org_id),
    )
    return [(row["event_type"], json.loads(row["value"])["data"]) for row in rows]


async def test_an_idle_personal_org_is_archived_kept_and_comes_back(
    database: Database, platform: Platform
) -> None:
    idle_user, busy_user = await new_users(database, 2)
    idle, busy = await personal_org_of(database, idle_user), await personal_org_of(database, busy_user)
    await make_idle(platform, idle, days=91)
    await make_idle(platform, busy, days=89)
    archiver = Archiver(database=database, idle_for=THRESHOLD, interval_seconds=3600)

    await archiver.run_once()
    assert await archiver.run_once() == 0  # already archived: nothing twice

    async with database.unit_of_work() as session:
        archived, active = await get_org(session, org_id=idle), await get_org(session, org_id=busy)
    assert (archived.status, archived.archive_reason, active.status) == ("archived", "inactive", "active")
    # Nothing was deleted: the org, its membership and its owner's listing are all there.
    assert await count(platform, "workspace", "SELECT count(*) FROM memberships WHERE org_id = $1", idle) == 1
    async with database.unit_of_work() as session:
        assert [w.org_id for w in (await list_workspaces(session, user_id=idle_user)).workspaces] == [idle]
    assert ("org.archived", {"org_id": str(idle), "reason": "inactive"}) in await org_events(platform, idle)

    # The owner returns (opens the app): the org is active again and says so.
    async with database.unit_of_work() as session:
        context = await user_context(session, user_id=idle_user, org_id=None)
    assert context.org.status == "active"
    async with database.unit_of_work() as session:
        restored = await get_org(session, org_id=idle)
    assert (restored.archived_at, restored.archive_reason) == (None, None)
    assert [t for t, _ in await org_events(platform, idle)][-2:] == ["org.archived", "org.restored"]


async def test_team_orgs_are_never_archived_for_idleness(database: Database, platform: Platform) -> None:
    team = await new_team(database, admin=await new_user(database))
    await make_idle(platform, team, days=400)
    await Archiver(database=database, idle_for=THRESHOLD, interval_seconds=3600).run_once()
    async with database.unit_of_work() as session:
        assert (await get_org(session, org_id=team)).status == "active"


async def test_a_deleted_user_leaves_every_org_and_no_team_without_an_admin(
    database: Database, platform: Platform
) -> None:
    leaver, veteran, newcomer, co_admin = await new_users(database, 4)
    personal = await personal_org_of(database, leaver)
    # The leaver is the only admin here: the longest-standing member (veteran) takes over.
    led = await new_team(database, admin=leaver, members={veteran: Role.TRAINEE, newcomer: Role.MANAGER})
    # Here another admin remains: nothing else changes.
    shared_lead = await new_team(database, admin=co_admin, members={leaver: Role.ADMIN, veteran: Role.HR})
    # Here the leaver is alone: the org is archived, its data kept.
    alone = await new_team(database, admin=leaver)

    async with database.unit_of_work() as session:
        await remove_deleted_user(session, user_id=leaver)
    async with database.unit_of_work() as session:  # a second delivery changes nothing
        await remove_deleted_user(session, user_id=leaver)

    assert (
        await count(platform, "workspace", "SELECT count(*) FROM memberships WHERE user_id = $1", leaver) == 0
    )
    async with database.unit_of_work() as session:
        led_roles = {m.user_id: m.role for m in await list_members(session, org_id=led, actor_id=veteran)}
        shared_roles = {
            m.user_id: m.role for m in await list_members(session, org_id=shared_lead, actor_id=co_admin)
        }
        statuses = [(await get_org(session, org_id=o)).status for o in (personal, alone, led, shared_lead)]
    assert led_roles == {veteran: "admin", newcomer: "manager"}
    assert shared_roles == {co_admin: "admin", veteran: "hr"}
    assert statuses == ["archived", "archived", "active", "active"]
    assert (
        "membership.role_changed",
        {"org_id": str(led), "user_id": veteran, "role": "admin", "previous_role": "trainee"},
    ) in await org_events(platform, led)
    assert (
        "membership.removed",
        {"org_id": str(personal), "user_id": leaver, "reason": "user_deleted"},
    ) in await org_events(platform, personal)
    assert ("org.archived", {"org_id": str(personal), "reason": "owner_deleted"}) in await org_events(
        platform, personal
    )
    assert ("org.archived", {"org_id": str(alone), "reason": "no_members"}) in await org_events(
        platform, alone
    )
