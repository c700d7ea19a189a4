"""Typed path ids: a path id that is not a well-formed id never reaches the domain.

`OrgId` is the type of every `{org_id}` path parameter of every service. A malformed one answers
404 `org_not_found` — exactly what an unknown org answers (API.md: ids cannot be probed, and a
path id that is not a well-formed id answers 404, never a wider scope and never 500) — before
the route body runs, so it can never reach a query or the transaction's tenant setting
(`shared.db.tenancy`, which refuses text on its own as well).

*Decision:* 404 rather than FastAPI's 422 for a `uuid.UUID` path parameter: to a caller, a
malformed org id and an org that does not exist (or is not theirs) are the same thing, so they
get the same answer. Other path ids keep their own types: invitation ids are `uuid.UUID` (422),
link slugs and invitation tokens are opaque strings looked up as parameters (never in a tenant
scope), user ids are the auth provider's strings.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import Depends, Path

from shared.errors import NotFound

# The canonical text form of a UUID (any case): no braces, no `urn:uuid:`, no missing hyphens.
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class MalformedOrgId(NotFound):
    """A path org id that is not a UUID: answered like an unknown org (ids cannot be probed)."""

    code = "org_not_found"


def parse_uuid(value: str) -> uuid.UUID | None:
    """`value` as a UUID if it is one in canonical text form, else None."""
    if _CANONICAL_UUID.fullmatch(value) is None:
        return None
    return uuid.UUID(value)


async def _org_id(
    org_id: Annotated[str, Path(description="The org's id (a UUID)", json_schema_extra={"format": "uuid"})],
) -> uuid.UUID:
    # Async on purpose: FastAPI runs a plain `def` dependency in a worker thread.
    parsed = parse_uuid(org_id)
    if parsed is None:
        raise MalformedOrgId("org not found")
    return parsed


async def _org_id_text(org_id: Annotated[uuid.UUID, Depends(_org_id)]) -> str:
    return str(org_id)


OrgId = Annotated[uuid.UUID, Depends(_org_id)]
"""A path `{org_id}`: a UUID, or 404 `org_not_found`."""

OrgIdText = Annotated[str, Depends(_org_id_text)]
"""The same, as its canonical text (lower case), for a service that keeps org ids as text."""
