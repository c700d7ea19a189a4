"""Which failures mean "a dependency is down" (redeliver, answer 503) rather than "bad input"."""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared.errors import is_infrastructure_error


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def test_a_database_still_recovering_is_unavailable_not_a_bad_message() -> None:
    # asyncpg's CannotConnectNowError while PostgreSQL replays its WAL after a kill -9.
    recovering = DBAPIError("SELECT 1", {}, _DriverError("57P03"))

    assert is_infrastructure_error(recovering)


def test_connection_exceptions_pool_timeouts_and_socket_errors_are_unavailable() -> None:
    assert is_infrastructure_error(DBAPIError("SELECT 1", {}, _DriverError("08006")))
    assert is_infrastructure_error(PoolTimeout("QueuePool limit reached"))
    assert is_infrastructure_error(ConnectionRefusedError())


def test_a_statement_the_database_rejects_is_not_an_outage() -> None:
    assert not is_infrastructure_error(IntegrityError("INSERT", {}, _DriverError("23505")))
    assert not is_infrastructure_error(DBAPIError("SELECT", {}, _DriverError("42P01")))
    assert not is_infrastructure_error(ValueError("bad data"))


def test_the_plain_pools_own_errors_for_a_lost_or_refusing_server_are_unavailable() -> None:
    """asyncpg's errors reach the hot paths that bypass SQLAlchemy (quota consume, claims read)."""
    assert is_infrastructure_error(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"))
    assert is_infrastructure_error(asyncpg.InterfaceError("connection is closed"))
    assert is_infrastructure_error(
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    )
    assert is_infrastructure_error(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    assert not is_infrastructure_error(asyncpg.exceptions.UniqueViolationError("duplicate key"))
