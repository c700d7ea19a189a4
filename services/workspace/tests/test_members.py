"""Members and roles: the permissions matrix, the last-admin rule (also under concurrency), and a
personal org that never gets a second member."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from devstack.platform import Platform
from devstack.testing import count, service_db
from shared.db.session import Database
from workspace.errors import Forbidden, LastAdmin, MemberNotFound, OrgNotFound, PersonalOrgRefused
from workspace.models import Role
from workspace.service.members import add_member, change_role, list_members, remove_member

from .factories import new_team, new_user, new_users, personal_org_of


async def roles(database: Database, org_id: uuid.UUID, actor: str) -> dict[str, str]:
    async with database.unit_of_work() as session:
        return {m.user_id: m.role for m in await list_members(session, org_id=org_id, actor_id=actor)}


async def test_an_admin_changes_roles_and_removes_members(database: Database) -> None:
    admin, manager, trainee = await new_users(database, 3)
    org_id = await new_team(database, admin=admin, members={manager: Role.MANAGER, trainee: Role.TRAINEE})

    async with database.unit_of_work() as session:
        changed = await change_role(session, org_id=org_id, actor_id=admin, user_id=trainee, role=Role.HR)
    async with database.unit_of_work() as session:
        await remove_member(session, org_id=org_id, actor_id=admin, user_id=manager)

    assert changed.role == Role.HR
    assert await roles(database, org_id, admin) == {admin: "admin", trainee: "hr"}


@pytest.mark.parametrize("role", [Role.MANAGER, Role.HR, Role.TRAINEE, Role.TECH, Role.CLIENT])
async def test_only_admins_change_roles_or_remove_others(database: Database, role: Role) -> None:
    admin, member, other = await new_users(database, 3)
    org_id = await new_team(database, admin=admin, members={member: role, other: Role.TRAINEE})
    with pytest.raises(Forbidden):
        async with database.unit_of_work() as session:
            await change_role(session, org_id=org_id, actor_id=member, user_id=other, role=Role.ADMIN)
    with pytest.raises(Forbidden):
        async with database.unit_of_work() as session:
            await remove_member(session, org_id=org_id, actor_id=member, user_id=other)
    # Anyone may leave.
    async with database.unit_of_work() as session:
        await remove_member(session, org_id=org_id, actor_id=member, user_id=member)
    assert set(await roles(database, org_id, admin)) == {admin, other}


async def test_non_members_and_unknown_orgs_are_not_found(database: Database) -> None:
    admin, stranger = await new_user(database), await new_user(database)
    org_id = await new_team(database, admin=admin)
    for org in (org_id, uuid.uuid4()):
        with pytest.raises(OrgNotFound):
            async with database.unit_of_work() as session:
                await list_members(session, org_id=org, actor_id=stranger)
    with pytest.raises(MemberNotFound):
        async with database.unit_of_work() as session:
            await change_role(session, org_id=org_id, actor_id=admin, user_id=stranger, role=Role.HR)


async def test_the_last_admin_can_be_neither_demoted_nor_removed_nor_leave(database: Database) -> None:
    admin, trainee = await new_user(database), await new_user(database)
    org_id = await new_team(database, admin=admin, members={trainee: Role.TRAINEE})
    with pytest.raises(LastAdmin):
        async with database.unit_of_work() as session:
            await change_role(session, org_id=org_id, actor_id=admin, user_id=admin, role=Role.MANAGER)
    with pytest.raises(LastAdmin):
        async with database.unit_of_work() as session:
            await remove_member(session, org_id=org_id, actor_id=admin, user_id=admin)
    # With a second admin, the first may go.
    async with database.unit_of_work() as session:
        await change_role(session, org_id=org_id, actor_id=admin, user_id=trainee, role=Role.ADMIN)
    async with database.unit_of_work() as session:
        await remove_member(session, org_id=org_id, actor_id=admin, user_id=admin)
    assert await roles(database, org_id, trainee) == {trainee: "admin"}


async def test_two_admins_demoting_each_other_at_once_leave_an_admin(database: Database) -> None:
    rounds = 25
    outcomes: list[list[str]] = []
    for _ in range(rounds):
        first, second = await new_user(database), await new_user(database)
        org_id = await new_team(database, admin=first, members={second: Role.ADMIN})

        async def demote(actor: str, target: str, org_id: uuid.UUID = org_id) -> str:
            try:
                async with database.unit_of_work() as session:
                    await change_role(
                        session, org_id=org_id, actor_id=actor, user_id=target, role=Role.TRAINEE
                    )
            except (LastAdmin, Forbidden) as error:
                return error.code
            return "demoted"

        outcome = await asyncio.gather(demote(first, second), demote(second, first))
        outcomes.append(sorted(outcome))
        admins = [u for u, r in (await roles(database, org_id, first)).items() if r == "admin"]
        assert len(admins) == 1, (outcome, admins)
    # Each round exactly one demotion won; the other was refused (no longer an admin).
    assert all(outcome == ["demoted", "forbidden"] for outcome in outcomes), outcomes


async def test_a_personal_org_never_gets_a_second_member(database: Database, platform: Platform) -> None:
    owner, other = await new_user(database), await new_user(database)
    org_id = await personal_org_of(database, owner)
    with pytest.raises(PersonalOrgRefused):
        async with database.unit_of_work() as session:
            await add_member(session, org_id=org_id, user_id=other, role=Role.TRAINEE)
    with pytest.raises(PersonalOrgRefused):
        async with database.unit_of_work() as session:
            await remove_member(session, org_id=org_id, actor_id=owner, user_id=owner)
    # Not even a statement that bypasses the service (the table owner, no RLS) can add one.
    connection = await asyncpg.connect(service_db(platform, "workspace"))
    try:
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute(
                "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'trainee')", org_id, other
            )
    finally:
        await connection.close()
    assert (
        await count(platform, "workspace", "SELECT count(*) FROM memberships WHERE org_id = $1", org_id) == 1
    )
