"""A process's role (`SERVICE_ROLE`): what it runs, and that a worker never joins the shared port."""

from __future__ import annotations

import socket

import pytest
from pydantic import ValidationError

from shared.entrypoint import listening_sockets
from shared.settings import ServiceSettings


def test_the_role_decides_whether_consumers_and_jobs_run(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServiceSettings().role == "all" and ServiceSettings().runs_consumers
    monkeypatch.setenv("SERVICE_ROLE", "api")
    assert not ServiceSettings().runs_consumers
    monkeypatch.setenv("SERVICE_ROLE", "worker")
    assert ServiceSettings().runs_consumers
    monkeypatch.setenv("SERVICE_ROLE", "consumer")
    with pytest.raises(ValidationError):
        ServiceSettings()


def _reuses_port(listening: socket.socket) -> bool:
    return bool(listening.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT))


def test_api_replicas_share_the_port_and_a_worker_serves_on_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SERVICE_OWN_SOCKET_FD", raising=False)
    [api] = listening_sockets("127.0.0.1", 0, role="api")
    port = api.getsockname()[1]
    [second_api] = listening_sockets("127.0.0.1", port, role="api")  # a replica beside it
    try:
        assert _reuses_port(api) and _reuses_port(second_api)
        api.listen()
        # A worker on the API's port would take a share of its connections: it cannot bind.
        with pytest.raises(OSError):
            listening_sockets("127.0.0.1", port, role="worker")

        own = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        own.bind(("127.0.0.2", 0))
        monkeypatch.setenv("SERVICE_OWN_SOCKET_FD", str(own.fileno()))
        worker = listening_sockets("127.0.0.1", port, role="worker")
        assert [s.getsockname() for s in worker] == [own.getsockname()]  # its own port only
        with_own = listening_sockets("127.0.0.1", port, role="api")
        assert [s.getsockname()[1] for s in with_own] == [port, own.getsockname()[1]]
        with_own[0].close()
        own.close()
    finally:
        api.close()
        second_api.close()
