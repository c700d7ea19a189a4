"""Small factories for workspace's domain tests: users, personal orgs, team orgs with members."""

from __future__ import annotations

import uuid

from devstack.testing import new_user_id
from shared.db.session import Database
from shared.events.schemas.identity import UserCreated
from workspace.models import Role
from workspace.service.context import list_workspaces
from workspace.service.members import add_member
from workspace.service.orgs import create_team_org
from workspace.service.signup import Signup, provision_new_users


def new_slug(prefix: str = "team") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def new_user(database: Database, *, first_name: str = "Ada") -> str:
    """A user as identity announces them: known to workspace, with their personal org."""
    user_id = new_user_id()
    async with database.unit_of_work() as session:
        user = UserCreated(user_id=user_id, email=f"{user_id}@example.com", first_name=first_name)
        await provision_new_users(session, signups=[Signup(user)])
    return user_id


async def personal_org_of(database: Database, user_id: str) -> uuid.UUID:
    async with database.unit_of_work() as session:
        listed = await list_workspaces(session, user_id=user_id)
    return next(w.org_id for w in listed.workspaces if w.is_personal)


async def new_team(database: Database, *, admin: str, members: dict[str, Role] | None = None) -> uuid.UUID:
    """A team org created by `admin`, with `members` added in their roles."""
    async with database.unit_of_work() as session:
        org = await create_team_org(session, name="Sales Team", slug=new_slug(), created_by=admin)
    for user_id, role in (members or {}).items():
        async with database.unit_of_work() as session:
            await add_member(session, org_id=org.id, user_id=user_id, role=role)
    return org.id


async def new_users(database: Database, count: int) -> list[str]:
    return [await new_user(database) for _ in range(count)]
