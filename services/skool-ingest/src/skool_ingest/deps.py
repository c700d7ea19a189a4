"""skool_ingest's dependency aliases."""

from typing import Annotated

from fastapi import Depends, Request

from shared.db.group_commit import GroupCommit
from shared.http.deps import DbSession, OperatorKey
from skool_ingest.service.deliveries import Delivery, process_deliveries
from skool_ingest.service.rejections import RejectionCounter
from skool_ingest.settings import SkoolIngestSettings


async def _settings(request: Request) -> SkoolIngestSettings:
    """Async on purpose: FastAPI runs a plain `def` dependency in a worker thread."""
    settings: SkoolIngestSettings = request.app.state.runtime.settings
    return settings


Settings = Annotated[SkoolIngestSettings, Depends(_settings)]


async def _deliveries(request: Request) -> GroupCommit[Delivery, str]:
    """Where verified deliveries go: stored and applied in group commits."""
    return request.app.state.runtime.group_commit("skool-deliveries", process_deliveries)  # type: ignore[no-any-return]


Deliveries = Annotated[GroupCommit[Delivery, str], Depends(_deliveries)]


async def _rejections(request: Request) -> RejectionCounter:
    """This process's counter of refused deliveries (written to the table in the background)."""
    counter: RejectionCounter = request.app.state.rejections
    return counter


Rejections = Annotated[RejectionCounter, Depends(_rejections)]

__all__ = ["DbSession", "Deliveries", "OperatorKey", "Rejections", "Settings"]
