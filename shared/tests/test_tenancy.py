"""The tenant setting takes org ids only: text can never name more orgs than the caller meant."""

from __future__ import annotations

import uuid
from typing import Any, cast

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.session import Database
from shared.db.tenancy import TENANT_SETTING, InvalidTenant, set_tenant, set_tenants, tenant_text


class RecordingSession:
    """Stands in for a session: fails the test if anything would be sent to the database."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def connection(self) -> Any:
        self.sent.append("connection")
        raise AssertionError("nothing may reach the database")


A, B = str(uuid.uuid4()), str(uuid.uuid4())
NOT_ORG_IDS = [
    f"{A},{B}",  # issue 15: one path id that named two orgs
    f"{A}, {B}",
    "",
    " ",
    "*",
    "not-an-org",
    f" {A}",
    f"{A}\x00",
    A.upper(),
    "{" + A + "}",
    f"urn:uuid:{A}",
    A.replace("-", ""),
]


@pytest.mark.parametrize("org_id", NOT_ORG_IDS)
async def test_set_tenant_refuses_text_that_is_not_an_org_id(org_id: str) -> None:
    session = RecordingSession()

    with pytest.raises(InvalidTenant):
        await set_tenant(cast(AsyncSession, session), org_id)
    with pytest.raises(InvalidTenant):
        await set_tenants(cast(AsyncSession, session), [A, org_id])

    assert session.sent == []  # nothing reached the database


async def test_set_tenants_names_exactly_the_orgs_given(scratch_db: Database) -> None:
    named = []
    async with scratch_db.unit_of_work() as session:
        given: list[list[uuid.UUID | str]] = [[uuid.UUID(A)], [A, uuid.UUID(B)], []]
        for orgs in given:
            await set_tenants(session, orgs)
            setting = await session.execute(text(f"SELECT current_setting('{TENANT_SETTING}', true)"))
            named.append(setting.scalar())
    assert named == [A, f"{A},{B}", ""]


def test_tenant_text_is_the_canonical_text_of_a_uuid() -> None:
    assert tenant_text(uuid.UUID(A.upper())) == A
    assert tenant_text(A) == A
    with pytest.raises(InvalidTenant):
        tenant_text(cast(str, 42))
