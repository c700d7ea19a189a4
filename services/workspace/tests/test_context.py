"""Context and switcher: navigation per seed 000 `getNavItems`, plan and limits from billing's
events, the switcher only with more than one workspace."""

from __future__ import annotations

import uuid

import pytest

from shared.db.session import Database
from shared.events.schemas.billing import PlanLimits, SubscriptionChanged
from workspace.errors import OrgNotFound
from workspace.models import Role
from workspace.service.context import list_workspaces, user_context
from workspace.service.members import remove_member
from workspace.service.plans import apply_subscription_changes

from .factories import new_team, new_user, personal_org_of

BASE = [
    ("Dashboard", "/dashboard"),
    ("Training", "/training"),
    ("Scenarios", "/scenarios"),
    ("Analytics", "/analytics"),
]
TEAM = [("Assignments", "/assignments"), ("Leaderboard", "/leaderboard")]
SETTINGS = [("Settings", "/settings")]
# API.md / seed 000, in order.
EXPECTED_NAVIGATION = {
    "personal": [*BASE, ("Billing", "/billing"), *SETTINGS],
    Role.ADMIN: [
        *BASE,
        *TEAM,
        ("Team", "/team"),
        ("Users", "/admin/users"),
        ("Billing", "/billing"),
        *SETTINGS,
    ],
    Role.MANAGER: [*BASE, *TEAM, ("Team", "/team"), *SETTINGS],
    Role.HR: [*BASE, *TEAM, *SETTINGS],
    Role.TRAINEE: [*BASE, *TEAM, *SETTINGS],
    Role.TECH: [*BASE, *TEAM, *SETTINGS],
    Role.CLIENT: [*BASE, *TEAM, *SETTINGS],
}


async def test_a_personal_user_sees_no_team_items(database: Database) -> None:
    user = await new_user(database)
    async with database.unit_of_work() as session:
        context = await user_context(session, user_id=user, org_id=None)
    assert [(i.title, i.url) for i in context.navigation] == EXPECTED_NAVIGATION["personal"]
    assert (context.is_personal, context.role, context.org.status) == (True, Role.TRAINEE, "active")
    assert context.show_switcher is False


@pytest.mark.parametrize("role", list(Role))
async def test_each_team_role_sees_the_seeds_navigation_in_order(database: Database, role: Role) -> None:
    admin, member = await new_user(database), await new_user(database)
    org_id = await new_team(database, admin=admin, members={} if role == Role.ADMIN else {member: role})
    user = admin if role == Role.ADMIN else member
    async with database.unit_of_work() as session:
        context = await user_context(session, user_id=user, org_id=org_id)
    assert [(i.title, i.url) for i in context.navigation] == EXPECTED_NAVIGATION[role]
    assert (context.role, context.is_personal) == (role, False)


async def test_the_switcher_shows_once_there_is_a_second_workspace(database: Database) -> None:
    user = await new_user(database)
    async with database.unit_of_work() as session:
        before = await list_workspaces(session, user_id=user)
    team = await new_team(database, admin=user)
    async with database.unit_of_work() as session:
        after = await list_workspaces(session, user_id=user)
        context = await user_context(session, user_id=user, org_id=team)
    assert (len(before.workspaces), before.show_switcher) == (1, False)
    assert [(w.is_personal, w.role, w.plan) for w in after.workspaces] == [
        (True, Role.TRAINEE, "individual_free"),
        (False, Role.ADMIN, "free"),
    ]
    assert after.show_switcher is True and context.show_switcher is True


async def test_features_and_limits_follow_billing_and_ignore_stale_events(database: Database) -> None:
    user = await new_user(database)
    org_id = await personal_org_of(database, user)
    features = {"voice_training": True, "ai_scenario_generation": True, "api_access": False}
    for version, plan in ((1000, "individual_pro"), (999, "individual_free")):  # the older arrives late
        change = SubscriptionChanged(
            org_id=str(org_id),
            plan=plan,
            plan_kind="personal",
            status="active",
            version=version,
            limits=PlanLimits(seats=1, sessions_per_month=100, scenarios=None, ai_generation=True),
            features=features,
        )
        async with database.unit_of_work() as session:
            await apply_subscription_changes(session, changes=[change])
    async with database.unit_of_work() as session:
        context = await user_context(session, user_id=user, org_id=None)
    assert (context.plan, context.org.plan) == ("individual_pro", "individual_pro")
    assert context.limits.model_dump() == {"seats": 1, "sessions_per_month": 100, "scenarios": None}
    assert context.features["ai_scenario_generation"] is True and context.features["api_access"] is False


async def test_the_context_of_an_org_the_user_is_not_in_is_not_found(database: Database) -> None:
    user, other = await new_user(database), await new_user(database)
    for org_id in (await personal_org_of(database, other), uuid.uuid4()):
        with pytest.raises(OrgNotFound):
            async with database.unit_of_work() as session:
                await user_context(session, user_id=user, org_id=org_id)
    with pytest.raises(OrgNotFound):  # no workspace at all yet
        async with database.unit_of_work() as session:
            await user_context(session, user_id="user_never_seen", org_id=None)


async def test_the_default_org_falls_back_when_the_user_left_it(database: Database) -> None:
    admin, member = await new_user(database), await new_user(database)
    team = await new_team(database, admin=admin, members={member: Role.TRAINEE})
    async with database.unit_of_work() as session:
        assert (await user_context(session, user_id=member, org_id=None, default_org_id=team)).org.id == team
    async with database.unit_of_work() as session:
        await remove_member(session, org_id=team, actor_id=admin, user_id=member)
    # The token (minutes stale) still names the team: the context opens their own workspace.
    async with database.unit_of_work() as session:
        context = await user_context(session, user_id=member, org_id=None, default_org_id=team)
    assert (context.org.id, context.is_personal) == (await personal_org_of(database, member), True)
