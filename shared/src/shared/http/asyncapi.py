"""`GET /asyncapi.json`: the service's AsyncAPI 3.0 document (no auth, like /openapi.json).

Kept out of the OpenAPI schema (it is a second contract beside it, not an operation of the API).
The same document is committed as docs/asyncapi/<service>.json (`make asyncapi`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request

from shared.events.asyncapi import build_asyncapi
from shared.events.registry import schemas_on
from shared.events.topics import topics_published_by

if TYPE_CHECKING:
    from shared.runtime import ServiceRuntime

router = APIRouter()


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi_json(request: Request) -> dict[str, Any]:
    return asyncapi_of(request.app)


def asyncapi_of(app: FastAPI) -> dict[str, Any]:
    """The AsyncAPI document of the service `app` runs: what its code publishes and consumes."""
    runtime: ServiceRuntime = app.state.runtime
    return build_asyncapi(
        service=runtime.name,
        version=app.version,
        published=[schema for topic in topics_published_by(runtime.name) for schema in schemas_on(topic)],
        consumed={subscription.topic: list(subscription.handlers) for subscription in runtime.subscriptions},
        group_id=runtime.settings.consumer_group,
    )
