"""Comparing the points recorded in the store with the points proposed settings would give."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.common.db import Connection
from services.merchant_settings.errors import describe, setting_problems, unknown_settings
from services.merchant_settings.model import MerchantSettings
from services.merchant_settings.store import load_settings
from services.rewarding.events import RecordedEvent
from services.simulation.redecide import (
    CustomerId,
    points_by_customer,
    recorded_inputs,
    redecide,
)
from services.store.event_store import decode_event

# Rows fetched per round trip from the server-side cursor.
CURSOR_PREFETCH = 2000


class InvalidSettingsError(ValueError):
    """The proposed settings are invalid; the message names the field and the merchant."""


@dataclass(frozen=True)
class CustomerDifference:
    """A customer's points as recorded and as the proposed settings would decide them."""

    merchant_id: str
    customer_key: str
    recorded: int
    simulated: int

    @property
    def difference(self) -> int:
        return self.simulated - self.recorded


@dataclass
class SimulationReport:
    """The outcome of re-deciding every selected order under the proposed settings."""

    settings: dict[str, MerchantSettings]
    customers: list[CustomerDifference] = field(default_factory=list)
    orders: int = 0
    inputs: int = 0

    @property
    def recorded_total(self) -> int:
        return sum(c.recorded for c in self.customers)

    @property
    def simulated_total(self) -> int:
        return sum(c.simulated for c in self.customers)

    @property
    def changed(self) -> list[CustomerDifference]:
        return [c for c in self.customers if c.difference != 0]


def propose(
    current: MerchantSettings, changes: Mapping[str, Any], merchant_id: str
) -> MerchantSettings:
    """Return ``current`` with ``changes`` applied, as the next settings version would be."""
    problems = unknown_settings(dict(changes))
    if not problems:
        merged = {**current.model_dump(), **changes, "version": current.version + 1}
        try:
            return MerchantSettings.model_validate(merged)
        except ValidationError as error:
            problems = setting_problems(error)
    raise InvalidSettingsError(
        f"proposed settings for {merchant_id} are invalid: {describe(problems)}"
    )


async def order_merchants(connection: Connection, merchant_ids: Sequence[str] | None) -> list[str]:
    """Return the merchants among ``merchant_ids`` (all when None) that have order streams."""
    rows = await connection.fetch(
        """
        SELECT merchant_id FROM merchants
        WHERE ($1::text[] IS NULL OR merchant_id = ANY($1::text[]))
        ORDER BY merchant_id
        """,
        None if merchant_ids is None else list(merchant_ids),
    )
    return [row["merchant_id"] for row in rows]


async def simulate(
    connection: Connection,
    changes: Mapping[str, Any],
    merchant_ids: Sequence[str] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SimulationReport:
    """Re-decide the stored orders of ``merchant_ids`` (all when None) with ``changes`` applied.

    Runs in a read-only transaction, so PostgreSQL rejects any write. ``on_progress``
    receives the number of events read since its last call.
    """
    recorded: dict[CustomerId, int] = {}
    simulated: dict[CustomerId, int] = {}
    async with connection.transaction(readonly=True, isolation="repeatable_read"):
        merchants = await order_merchants(connection, merchant_ids)
        current = await load_settings(connection, merchants)
        proposed = {m: propose(current[m], changes, m) for m in merchants}
        rules = {m: settings.rules() for m, settings in proposed.items()}
        report = SimulationReport(settings=proposed)

        async for merchant_id, stream in order_streams(connection, merchants, on_progress):
            inputs = recorded_inputs(stream)
            report.orders += 1
            report.inputs += len(inputs)
            _add(recorded, points_by_customer(stream))
            _add(simulated, points_by_customer(redecide(inputs, rules[merchant_id])))

    for key in sorted(set(recorded) | set(simulated)):
        report.customers.append(
            CustomerDifference(key[0], key[1], recorded.get(key, 0), simulated.get(key, 0))
        )
    return report


async def order_streams(
    connection: Connection,
    merchant_ids: Sequence[str],
    on_progress: Callable[[int], None] | None = None,
) -> AsyncIterator[tuple[str, list[RecordedEvent]]]:
    """Yield (merchant id, events) of each order stream of ``merchant_ids``, in version order.

    Reads through a server-side cursor, so one stream at a time is in memory.
    Must run inside a transaction.
    """
    cursor = connection.cursor(
        """
        SELECT stream_id, merchant_id, event_type, data FROM events
        WHERE merchant_id = ANY($1::text[]) AND stream_id LIKE 'order:%'
        ORDER BY stream_id, stream_version
        """,
        list(merchant_ids),
        prefetch=CURSOR_PREFETCH,
    )
    stream_id: str | None = None
    merchant_id = ""
    events: list[RecordedEvent] = []
    read = 0
    async for row in cursor:
        if row["stream_id"] != stream_id:
            if stream_id is not None:
                yield merchant_id, events
            stream_id, merchant_id, events = row["stream_id"], row["merchant_id"], []
        events.append(decode_event(row["event_type"], row["data"]))
        read += 1
        if on_progress is not None and read == CURSOR_PREFETCH:
            on_progress(read)
            read = 0
    if stream_id is not None:
        yield merchant_id, events
    if on_progress is not None and read:
        on_progress(read)


async def count_order_events(connection: Connection, merchant_ids: Sequence[str]) -> int:
    """Return how many events the order streams of ``merchant_ids`` contain."""
    count: int = await connection.fetchval(
        """
        SELECT count(*) FROM events
        WHERE merchant_id = ANY($1::text[]) AND stream_id LIKE 'order:%'
        """,
        list(merchant_ids),
    )
    return count


def _add(totals: dict[CustomerId, int], changes: Mapping[CustomerId, int]) -> None:
    for key, points in changes.items():
        totals[key] = totals.get(key, 0) + points
