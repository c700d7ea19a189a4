"""Running one service as a process: `python -m <service>` calls `serve`."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from shared.settings import ServiceSettings


def serve(app_factory: str, settings: ServiceSettings) -> None:
    """Serve the service's HTTP API and consumers on its configured host and port."""
    instance = os.environ.get("SERVICE_INSTANCE", settings.service_name)
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {instance} %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    config = uvicorn.Config(
        app_factory,
        factory=True,
        host=settings.host,
        port=settings.http_port,
        log_level="warning",
        lifespan="on",
        # The C event loop and HTTP parser: measured cheaper per request than asyncio and h11.
        loop="uvloop",
        http="httptools",
        # The TCP peer stays the request's client: X-Forwarded-For is read by the rate limiter
        # only, and only from PLATFORM_TRUSTED_PROXIES (uvicorn's default believes it from
        # 127.0.0.1, so any local client could pick its own address).
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=listening_sockets(settings.host, settings.http_port, role=settings.role))
    if not server.started:
        sys.exit(STARTUP_FAILURE)  # as uvicorn.run does: the lifespan failed to start


def listening_sockets(host: str, port: int, *, role: str = "all") -> list[socket.socket]:
    """The service's port, shared with its other replicas, plus this replica's own port if given.

    The shared socket has SO_REUSEPORT, so every replica binds the same port and the kernel
    spreads incoming connections among them. Sockets are only bound here: the server listens
    once the application has started, so no connection waits on a replica still starting up.
    A local runner may hand over a socket of this replica's own (`SERVICE_OWN_SOCKET_FD`), to
    reach this process alone (readiness checks).

    A `worker` process (shared.settings: consumers and jobs, health and metrics only) never joins
    the shared port, where it would take a share of the API's connections: it serves on its own
    socket when given one, else on `port` bound without SO_REUSEPORT (its own container's port;
    on a host where the API already listens there it fails at start instead of stealing requests).
    """
    family, kind, protocol, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    own_fd = os.environ.get("SERVICE_OWN_SOCKET_FD")
    own = [] if own_fd is None else [socket.socket(fileno=int(own_fd))]
    if role == "worker" and own:
        return own
    listening = socket.socket(family, kind, protocol)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if role != "worker":
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listening.bind(address)
    return [listening, *own]
