"""A deleted user's tokens write nothing (issue 15): identity's `user.deleted` reaches workspace,
and every write route then refuses a token minted before the deletion with 401 `invalid_token`
(docs/workspaces.md, "Deleted users")."""

from __future__ import annotations

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.testing import bearer_token, call_service, count, delete_user, eventually, new_slug, sign_up


async def test_a_deleted_users_old_token_creates_no_org_and_changes_nothing(
    services: Fleet, platform: Platform
) -> None:
    user_id, claims = await sign_up(services)
    token = await bearer_token(services, user_id)
    team = await call_service(
        services, "workspace", "POST", "/v1/orgs", token=token, json={"name": "Before", "slug": new_slug()}
    )
    assert team.status_code == 201, team.text
    created = "SELECT count(*) FROM orgs WHERE created_by = $1"
    before = await count(platform, "workspace", created, user_id)

    await delete_user(services, user_id)
    await eventually(
        lambda: count(
            platform,
            "workspace",
            "SELECT count(*) FROM member_profiles WHERE id = $1 AND deleted_at IS NOT NULL",
            user_id,
        ),
        until=lambda deleted: deleted == 1,
        what=f"workspace has seen {user_id} deleted",
    )

    slug = new_slug()
    writes = [
        ("POST", "/v1/orgs", {"json": {"name": "After", "slug": slug}}),
        ("POST", f"/v1/orgs/{claims['org_id']}/convert", {"json": {"name": "Conv", "slug": new_slug()}}),
        ("PATCH", f"/v1/orgs/{team.json()['id']}/members/{user_id}", {"json": {"role": "admin"}}),
        ("DELETE", f"/v1/orgs/{team.json()['id']}/members/{user_id}", {}),
    ]
    for method, path, kwargs in writes:
        refused = await call_service(services, "workspace", method, path, token=token, **kwargs)
        assert refused.status_code == 401, (method, path, refused.text)
        assert refused.json()["error"]["code"] == "invalid_token"
    assert await count(platform, "workspace", "SELECT count(*) FROM orgs WHERE slug = $1", slug) == 0
    assert await count(platform, "workspace", created, user_id) == before
