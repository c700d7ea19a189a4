"""Team orgs (API.md `POST /v1/orgs`): the creator is admin, slugs are unique across tenants."""

from __future__ import annotations

import json

import pytest

from devstack.platform import Platform
from devstack.testing import fetch, service_db
from shared.db.session import Database
from workspace.errors import InvalidField, SlugTaken
from workspace.models import Role
from workspace.service.members import list_members
from workspace.service.orgs import create_team_org

from .factories import new_slug, new_team, new_user


async def test_the_creator_is_admin_and_the_events_say_so(database: Database, platform: Platform) -> None:
    admin = await new_user(database)
    org_id = await new_team(database, admin=admin)

    async with database.unit_of_work() as session:
        members = await list_members(session, org_id=org_id, actor_id=admin)
    assert [(m.user_id, m.role, m.email) for m in members] == [(admin, Role.ADMIN, f"{admin}@example.com")]
    events = await fetch(
        service_db(platform, "workspace"),
        "SELECT event_type, value FROM outbox WHERE key = $1 ORDER BY position",
        str(org_id),
    )
    assert [e["event_type"] for e in events] == ["org.created", "membership.added"]
    created = json.loads(events[0]["value"])["data"]
    assert (created["kind"], created["is_personal"], created["created_by"]) == ("team", False, admin)
    assert created["initial_plan"] == "free"
    assert json.loads(events[1]["value"])["data"]["role"] == "admin"


async def test_a_slug_is_taken_whoever_holds_it(database: Database) -> None:
    slug = new_slug()
    async with database.unit_of_work() as session:
        await create_team_org(session, name="First", slug=slug, created_by=await new_user(database))
    with pytest.raises(SlugTaken):
        async with database.unit_of_work() as session:
            await create_team_org(session, name="Second", slug=slug, created_by=await new_user(database))


@pytest.mark.parametrize("slug", ["ab", "Upper-Case", "with space", "x" * 49, "personal-mine", "émoji"])
async def test_a_bad_slug_is_refused_naming_the_field(database: Database, slug: str) -> None:
    with pytest.raises(InvalidField, match=r"^slug"):
        async with database.unit_of_work() as session:
            await create_team_org(session, name="Team", slug=slug, created_by="user_x")


@pytest.mark.parametrize("name", ["", "   ", "n" * 101])
async def test_a_bad_name_is_refused_naming_the_field(database: Database, name: str) -> None:
    with pytest.raises(InvalidField, match=r"^name"):
        async with database.unit_of_work() as session:
            await create_team_org(session, name=name, slug=new_slug(), created_by="user_x")
