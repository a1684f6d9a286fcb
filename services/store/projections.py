"""Projections updated in the same transaction as the events they are built from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.common.db import Connection

CustomerId = tuple[str, str]
"""(merchant_id, customer_key)."""


@dataclass(frozen=True)
class CustomerProfile:
    """Contact details of a customer as the latest order event gave them."""

    merchant_id: str
    customer_key: str
    platform_customer_id: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    language: str | None
    seen_at: datetime


async def load_balances(
    connection: Connection, customers: Iterable[CustomerId]
) -> dict[CustomerId, int]:
    """Lock and return the stored balance of each of ``customers`` that has one.

    The row locks, taken in key order like the updates of add_to_balances, keep
    a concurrent batch from changing a balance that a clamped removal was
    decided on until this transaction ends.
    """
    keys = sorted(set(customers))
    if not keys:
        return {}
    rows = await connection.fetch(
        """
        SELECT b.merchant_id, b.customer_key, b.points
        FROM balances b
        JOIN unnest($1::text[], $2::text[]) AS k (merchant_id, customer_key)
          ON b.merchant_id = k.merchant_id AND b.customer_key = k.customer_key
        ORDER BY b.merchant_id, b.customer_key
        FOR UPDATE OF b
        """,
        [merchant for merchant, _ in keys],
        [customer for _, customer in keys],
    )
    return {(row["merchant_id"], row["customer_key"]): row["points"] for row in rows}


async def add_to_balances(
    connection: Connection, deltas: Mapping[CustomerId, tuple[int, int]]
) -> None:
    """Add each (points, last position) delta to the customer's balance."""
    if not deltas:
        return
    keys = sorted(deltas)
    await connection.execute(
        """
        INSERT INTO balances (merchant_id, customer_key, points, last_position)
        SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
        ON CONFLICT (merchant_id, customer_key) DO UPDATE
        SET points = balances.points + excluded.points,
            last_position = GREATEST(balances.last_position, excluded.last_position)
        """,
        [merchant for merchant, _ in keys],
        [customer for _, customer in keys],
        [deltas[key][0] for key in keys],
        [deltas[key][1] for key in keys],
    )


async def upsert_customers(connection: Connection, profiles: Sequence[CustomerProfile]) -> None:
    """Store each profile unless a newer one is stored already."""
    latest: dict[CustomerId, CustomerProfile] = {}
    for profile in profiles:
        key = (profile.merchant_id, profile.customer_key)
        if key not in latest or latest[key].seen_at <= profile.seen_at:
            latest[key] = profile
    if not latest:
        return
    rows = [latest[key] for key in sorted(latest)]
    await connection.execute(
        """
        INSERT INTO customers AS c (merchant_id, customer_key, platform_customer_id, email,
                                    first_name, last_name, language, last_seen_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                             $5::text[], $6::text[], $7::text[], $8::timestamptz[])
        ON CONFLICT (merchant_id, customer_key) DO UPDATE
        SET platform_customer_id = excluded.platform_customer_id,
            email = excluded.email,
            first_name = excluded.first_name,
            last_name = excluded.last_name,
            language = excluded.language,
            last_seen_at = excluded.last_seen_at
        WHERE c.last_seen_at <= excluded.last_seen_at
        """,
        [row.merchant_id for row in rows],
        [row.customer_key for row in rows],
        [row.platform_customer_id for row in rows],
        [row.email for row in rows],
        [row.first_name for row in rows],
        [row.last_name for row in rows],
        [row.language for row in rows],
        [row.seen_at for row in rows],
    )
