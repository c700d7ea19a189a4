"""Personal → team conversion (seed 000 `convert_personal_to_team_org`)."""

from __future__ import annotations

import json

import pytest

from devstack.platform import Platform
from devstack.testing import fetch, service_db
from shared.db.session import Database
from workspace.errors import NotPersonal, OrgNotFound, PlanKindMismatch, SlugTaken, UnknownPlan
from workspace.models import Org, Role
from workspace.service.conversion import convert_personal_org
from workspace.service.members import add_member, list_members
from workspace.service.orgs import get_org

from .factories import new_slug, new_team, new_user, personal_org_of


async def test_the_owner_converts_their_personal_org_in_place(database: Database, platform: Platform) -> None:
    owner = await new_user(database)
    org_id = await personal_org_of(database, owner)
    slug = new_slug("acme")

    async with database.unit_of_work() as session:
        answer = await convert_personal_org(
            session, org_id=org_id, actor_id=owner, name="  Acme Sales ", slug=slug, plan="starter"
        )

    assert (answer.id, answer.name, answer.slug, answer.is_personal, answer.plan) == (
        org_id,
        "Acme Sales",
        slug,
        False,
        "starter",
    )
    assert answer.settings.show_team_features and answer.settings.show_leaderboard
    async with database.unit_of_work() as session:
        org: Org = await get_org(session, org_id=org_id)
        members = await list_members(session, org_id=org_id, actor_id=owner)
    assert (org.is_personal, org.personal_user_id) == (False, None)
    assert [(m.user_id, m.role) for m in members] == [(owner, Role.ADMIN)]
    events = await fetch(
        service_db(platform, "workspace"),
        "SELECT event_type, value FROM outbox WHERE key = $1 ORDER BY position",
        str(org_id),
    )
    types = [e["event_type"] for e in events]
    assert types == ["org.created", "membership.added", "org.converted", "membership.role_changed"]
    converted, role_changed = (json.loads(e["value"])["data"] for e in events[2:])
    assert converted == {
        "org_id": str(org_id),
        "name": "Acme Sales",
        "slug": slug,
        "owner_user_id": owner,
        "plan": "starter",
    }
    assert (role_changed["user_id"], role_changed["role"], role_changed["previous_role"]) == (
        owner,
        "admin",
        "trainee",
    )
    # Now a team org, it may take members.
    async with database.unit_of_work() as session:
        assert await add_member(session, org_id=org_id, user_id=await new_user(database), role=Role.TRAINEE)


async def test_the_same_idempotency_key_gets_the_same_answer(database: Database, platform: Platform) -> None:
    owner = await new_user(database)
    org_id = await personal_org_of(database, owner)
    answers = []
    for name in ("First Name", "Another Name"):
        async with database.unit_of_work() as session:
            answers.append(
                await convert_personal_org(
                    session,
                    org_id=org_id,
                    actor_id=owner,
                    name=name,
                    slug=new_slug(),
                    plan="starter",
                    idempotency_key="k-1",
                )
            )
    assert answers[0] == answers[1]
    converted = await fetch(
        service_db(platform, "workspace"),
        "SELECT count(*) AS n FROM outbox WHERE key = $1 AND event_type = 'org.converted'",
        str(org_id),
    )
    assert converted[0]["n"] == 1
    # Without the key (or with another) the org is simply no longer personal.
    with pytest.raises(NotPersonal):
        async with database.unit_of_work() as session:
            await convert_personal_org(
                session, org_id=org_id, actor_id=owner, name="X", slug=new_slug(), plan="starter"
            )


async def test_only_a_personal_org_and_only_by_its_owner(database: Database) -> None:
    owner, stranger = await new_user(database), await new_user(database)
    personal = await personal_org_of(database, owner)
    team = await new_team(database, admin=owner)
    with pytest.raises(NotPersonal):
        async with database.unit_of_work() as session:
            await convert_personal_org(
                session, org_id=team, actor_id=owner, name="T", slug=new_slug(), plan="starter"
            )
    # Another user's personal org: they are not a member, so for them it does not exist.
    with pytest.raises(OrgNotFound):
        async with database.unit_of_work() as session:
            await convert_personal_org(
                session, org_id=personal, actor_id=stranger, name="T", slug=new_slug(), plan="starter"
            )


@pytest.mark.parametrize(("plan", "error"), [("individual_pro", PlanKindMismatch), ("gold", UnknownPlan)])
async def test_a_team_plan_is_required(database: Database, plan: str, error: type[Exception]) -> None:
    owner = await new_user(database)
    org_id = await personal_org_of(database, owner)
    with pytest.raises(error):
        async with database.unit_of_work() as session:
            await convert_personal_org(
                session, org_id=org_id, actor_id=owner, name="T", slug=new_slug(), plan=plan
            )
    async with database.unit_of_work() as session:
        assert (await get_org(session, org_id=org_id)).is_personal  # nothing half-applied


async def test_a_taken_slug_changes_nothing(database: Database) -> None:
    owner = await new_user(database)
    org_id = await personal_org_of(database, owner)
    team = await new_team(database, admin=await new_user(database))
    async with database.unit_of_work() as session:
        taken = (await get_org(session, org_id=team)).slug
    with pytest.raises(SlugTaken):
        async with database.unit_of_work() as session:
            await convert_personal_org(
                session, org_id=org_id, actor_id=owner, name="T", slug=taken, plan="starter"
            )
    async with database.unit_of_work() as session:
        org = await get_org(session, org_id=org_id)
        members = await list_members(session, org_id=org_id, actor_id=owner)
    assert (org.is_personal, org.personal_user_id) == (True, owner)
    assert [m.role for m in members] == [Role.TRAINEE]
