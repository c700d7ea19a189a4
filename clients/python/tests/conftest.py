"""Events for the kit's tests, built with the kit's own testing helpers (fixtures: under pytest's
importlib mode a conftest is no module to import from)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from backbone_client.events import Event, PlanLimits, SubscriptionChanged
from backbone_client.testing import new_event

PlanChange = Callable[..., Event[SubscriptionChanged]]
RawEnvelope = Callable[..., bytes]


@pytest.fixture
def plan_change() -> PlanChange:
    """`plan_change(plan=..., version=...)`: a subscription.changed as billing announces it."""

    def build(*, org_id: str = "org-1", plan: str = "individual_free", version: int = 1) -> Event[Any]:
        data = SubscriptionChanged(
            org_id=org_id,
            plan=plan,
            plan_kind="personal",
            status="active",
            version=version,
            limits=PlanLimits(seats=1, sessions_per_month=10, scenarios=3, ai_generation=False),
            features={"voice_training": True, "performance_analytics": False},
        )
        return new_event(data, subject=org_id)

    return build


@pytest.fixture
def raw_envelope() -> RawEnvelope:
    """`raw_envelope(type, subject=..., data=...)`: an envelope of any type, even an unknown one."""

    def build(event_type: str, *, subject: str, data: dict[str, Any]) -> bytes:
        document = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "type": event_type,
            "source": "billing",
            "time": datetime.now(UTC).isoformat(),
            "subject": subject,
            "data": data,
        }
        return json.dumps(document).encode()

    return build
