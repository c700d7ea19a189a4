"""Running one service as a process: `python -m <service>` calls `serve`."""

from __future__ import annotations

import logging

import uvicorn

from shared.settings import ServiceSettings


def serve(app_factory: str, settings: ServiceSettings) -> None:
    """Serve the service's HTTP API and consumers on its configured host and port."""
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {settings.service_name} %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.host,
        port=settings.http_port,
        log_level="warning",
        lifespan="on",
        # The C event loop and HTTP parser: measured cheaper per request than asyncio and h11.
        loop="uvloop",
        http="httptools",
    )
