"""Classifying failures as transient, and the retry backoff."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import ValidationError

from schemas.orders import OrderStatusChanged
from services.common.errors import ServiceUnavailableError
from services.rewarding.failures import Backoff, is_transient
from services.store.event_store import ConcurrencyError


def validation_error() -> ValidationError:
    try:
        OrderStatusChanged.model_validate_json(b"{}")
    except ValidationError as error:
        return error
    raise AssertionError("an empty object validated")


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        KafkaConnectionError("Unable to bootstrap"),
        ConcurrencyError("stream order:1 is at version 3"),
        ServiceUnavailableError("PostgreSQL is not reachable"),
    ],
    ids=type,
)
def test_transient_errors(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("bug in the decider"),
        KeyError("merchant"),
        ValueError("unknown event type"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
    ],
    ids=type,
)
def test_errors_caused_by_records(error: Exception) -> None:
    assert not is_transient(error)


def test_validation_error_not_transient() -> None:
    assert not is_transient(validation_error())


def test_transient_cause_makes_error_transient() -> None:
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError as cause:
            raise RuntimeError("query failed") from cause
    except RuntimeError as error:
        wrapped = error

    assert is_transient(wrapped)


def test_exception_group_transient_only_when_all_are() -> None:
    transient = ExceptionGroup("groups", [OSError("down"), KafkaConnectionError("down")])
    mixed = ExceptionGroup("groups", [OSError("down"), RuntimeError("bug")])

    assert is_transient(transient)
    assert not is_transient(mixed)


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff(initial=0.2, maximum=5.0)

    delays = [backoff.next_delay() for _ in range(12)]

    assert 0.16 <= delays[0] <= 0.2
    assert delays[3] > delays[0]
    assert all(delay <= 5.0 for delay in delays)
    assert delays[-1] >= 4.0
    backoff.reset()
    assert backoff.next_delay() <= 0.2
