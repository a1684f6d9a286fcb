"""Every projection of the event store, with the set-based SQL that derives it from ``events``.

The definitions are generic over event types: balances sum every recorded event
type that has ``signed_points``, and customer profiles come from every recorded
event type that carries the input order in an ``order`` field. A new event type
added to ``RECORDED_EVENT_TYPES`` joins the right projection without a change here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.merchant_settings.store import SettingsChanged
from services.rewarding.events import RECORDED_EVENT_TYPES


@dataclass(frozen=True)
class Projection:
    """A table derived from ``events`` by one ``SELECT`` that yields its ``columns``."""

    table: str
    columns: tuple[str, ...]
    select_sql: str
    parameters: tuple[Any, ...] = ()

    def insert_sql(self, target: str) -> str:
        """Return the statement that fills ``target`` (this table or a copy of it)."""
        return f"INSERT INTO {target} ({', '.join(self.columns)})\n{self.select_sql}"

    def typed_select_sql(self, column_types: Mapping[str, str]) -> str:
        """Return the ``SELECT`` with each column cast to its type in ``column_types``.

        Binary ``COPY`` into the table casts nothing, so each value must have the
        column's exact type. ``sum`` of ``bigint``, for example, returns ``numeric``.
        """
        casts = ", ".join(f"q.{column}::{column_types[column]}" for column in self.columns)
        return f"SELECT {casts}\nFROM ({self.select_sql}) AS q ({', '.join(self.columns)})"


def balance_signs() -> dict[str, int]:
    """Return each recorded event type that changes a balance, with its sign (+1 or -1)."""
    signs: dict[str, int] = {}
    for event_type, model in RECORDED_EVENT_TYPES.items():
        if "points" in model.model_fields and hasattr(model, "signed_points"):
            # model_construct skips validation, so one field is enough to read the sign.
            construct: Any = model.model_construct
            signs[event_type] = int(construct(points=1).signed_points)
    return signs


def order_input_types() -> list[str]:
    """Return the recorded event types that carry the input order event in ``order``."""
    return sorted(
        event_type
        for event_type, model in RECORDED_EVENT_TYPES.items()
        if "order" in model.model_fields
    )


def _balances() -> Projection:
    signs = balance_signs()
    types = sorted(signs)
    # The key comes from the event data, as the live consumer keys balances: a
    # removal keeps the customer of the award it reverses.
    return Projection(
        table="balances",
        columns=("merchant_id", "customer_key", "points", "last_position"),
        select_sql="""
            SELECT e.data->>'merchant_id', e.data->>'customer_key',
                   sum(s.sign * (e.data->>'points')::bigint), max(e.position)
            FROM events e
            JOIN unnest($1::text[], $2::int[]) AS s(event_type, sign)
              ON s.event_type = e.event_type
            GROUP BY 1, 2
        """,
        parameters=(types, [signs[event_type] for event_type in types]),
    )


def _customers() -> Projection:
    # The latest order event by source time wins. On a tie the later position wins,
    # as in the live upsert, which replaces a profile of equal time. A hash aggregate
    # finds each customer's latest time, and only the few inputs at that time are
    # sorted to break ties.
    # The processor stores the order's customer key in the customer_key column of
    # every event it decides, so the column is read instead of the JSON path.
    # NOTE: two orders of one customer with equal occurred_at, applied in concurrent
    # transactions, leave the live profile of whichever upsert ran last. That need
    # not be the later position, so verify reports such a row and rebuild settles it.
    return Projection(
        table="customers",
        columns=(
            "merchant_id",
            "customer_key",
            "platform_customer_id",
            "email",
            "first_name",
            "last_name",
            "language",
            "last_seen_at",
        ),
        select_sql="""
            WITH inputs AS MATERIALIZED (
                SELECT e.merchant_id, e.customer_key,
                       (e.data #>> '{order,occurred_at}')::timestamptz AS seen_at,
                       e.position, e.data #> '{order,customer}' AS c
                FROM events e
                WHERE e.event_type = ANY($1::text[]) AND e.customer_key IS NOT NULL
            ), latest_time AS (
                SELECT merchant_id, customer_key, max(seen_at) AS seen_at
                FROM inputs
                GROUP BY merchant_id, customer_key
            )
            SELECT DISTINCT ON (i.merchant_id, i.customer_key)
                   i.merchant_id, i.customer_key, c->>'platform_id', c->>'email',
                   c->>'first_name', c->>'last_name', c->>'language', i.seen_at
            FROM inputs i
            JOIN latest_time USING (merchant_id, customer_key, seen_at)
            ORDER BY i.merchant_id, i.customer_key, i.position DESC
        """,
        parameters=(order_input_types(),),
    )


def _merchant_settings() -> Projection:
    # The literal event type matches the partial index events_settings_idx, so this
    # reads the settings events alone instead of scanning every event.
    assert SettingsChanged.model_fields["event_type"].default == "SettingsChanged"
    return Projection(
        table="merchant_settings",
        columns=("merchant_id", "version", "settings"),
        select_sql="""
            SELECT DISTINCT ON (merchant_id)
                   merchant_id, (data #>> '{settings,version}')::int, data->'settings'
            FROM events
            WHERE event_type = 'SettingsChanged'
            ORDER BY merchant_id, stream_version DESC
        """,
    )


def projections() -> Sequence[Projection]:
    """Return every projection, in the order they are rebuilt."""
    return (_balances(), _customers(), _merchant_settings())
