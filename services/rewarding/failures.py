"""Classification of failures as transient, and the backoff before trying again.

A transient failure (the database or the broker is unreachable, a connection was
terminated, a concurrent writer won) is not caused by the record being applied,
so the batch is retried until it succeeds and is never dead-lettered. Any other
exception is treated as caused by a record.
"""

from __future__ import annotations

import random

import asyncpg
from aiokafka.errors import KafkaError

from services.common.errors import ServiceUnavailableError
from services.store.event_store import ConcurrencyError

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError and TimeoutError
    KafkaError,
    ServiceUnavailableError,
    ConcurrencyError,
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExistError and the like
    asyncpg.exceptions.OperatorInterventionError,  # pg_terminate_backend, shutdown
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
    asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock
    # Raised when a connection breaks between two steps of the protocol, as after
    # pg_terminate_backend: "cannot switch to state ...; another operation is in progress".
    asyncpg.exceptions.InternalClientError,
)

# asyncpg raises a bare InterfaceError for a pool connection that was closed
# under it; other InterfaceErrors are programming errors.
_CLOSED_CONNECTION_MESSAGES = ("connection is closed", "connection was closed")


def is_transient(error: BaseException) -> bool:
    """Return whether ``error``, or an error it was raised from, is worth retrying as is."""
    if isinstance(error, BaseExceptionGroup):
        # Partitions applied concurrently fail together: transient only if each one was.
        return all(is_transient(inner) for inner in error.exceptions)
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TRANSIENT_ERRORS):
            return True
        if isinstance(current, asyncpg.InterfaceError) and any(
            text in str(current) for text in _CLOSED_CONNECTION_MESSAGES
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


class Backoff:
    """Capped exponential delays with jitter: 0.2 s, 0.4 s, 0.8 s ... up to ``maximum``."""

    def __init__(self, initial: float = 0.2, maximum: float = 5.0) -> None:
        self._initial = initial
        self._maximum = maximum
        self.failures = 0

    def next_delay(self) -> float:
        """Count one more failure and return the seconds to wait before the next attempt."""
        self.failures += 1
        delay = min(self._maximum, self._initial * 2 ** min(self.failures - 1, 30))
        # Jitter keeps several consumers from retrying in lockstep.
        return float(delay * random.uniform(0.8, 1.0))  # noqa: S311

    def reset(self) -> None:
        self.failures = 0
