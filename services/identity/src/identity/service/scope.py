"""Which rows of `membership_views` a transaction may see and write (row-level security).

`membership_views` is under forced RLS (migration 0007): a row is visible, and may be written,
only when its user is one the transaction named in `app.user_ids`, or its org one named in
`app.org_id` — and with neither named, no row at all. Every reader in `service.claims` names
what it reads by first: the user(s) of the request or of the batch, or the org for an org-wide
change (a conversion). A query that forgets its `WHERE user_id = ...` (or a bug that puts
another user's id in it) still sees only the users the transaction named.

*Decision:* the users go into the setting as a JSON array, not comma-separated like
`app.org_id`: user ids are the auth provider's strings, not UUIDs, so no separator is safe, and
a user id holding one must never name two users. Orgs use `shared.db.tenancy.tenant_text`
(UUIDs only), as every tenant scope does. Both settings are transaction-local (`set_config(...,
true)`) and each call sets both, so a scope never leaks into the next statement group of a batch.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tenancy import TENANT_SETTING, tenant_text

USERS_SETTING = "app.user_ids"
_SCOPE = text("SELECT set_config(:users_setting, :users, true), set_config(:orgs_setting, :orgs, true)")


async def scope_to(
    session: AsyncSession, *, users: Iterable[str] = (), orgs: Iterable[uuid.UUID | str] = ()
) -> None:
    """For the rest of this transaction (until the next call), `membership_views` shows and
    accepts the rows of these users and of these orgs only."""
    user_ids = list(dict.fromkeys(users))
    org_ids = ",".join(tenant_text(org_id) for org_id in orgs)
    await session.execute(
        _SCOPE,
        {
            "users_setting": USERS_SETTING,
            "users": json.dumps(user_ids) if user_ids else "",
            "orgs_setting": TENANT_SETTING,
            "orgs": org_ids,
        },
    )
