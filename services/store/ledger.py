"""A customer's balance and ledger, read from the projections and the event store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.common.db import Queryable


@dataclass(frozen=True)
class LedgerEntry:
    position: int
    event_id: str
    event_type: str
    points: int
    order_id: str
    order_number: str
    reason: str
    occurred_at: str
    recorded_at: str


@dataclass
class Ledger:
    merchant_id: str
    customer_key: str
    balance: int | None
    entries: list[LedgerEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "merchant_id": self.merchant_id,
            "customer_key": self.customer_key,
            "balance": self.balance,
            "ledger": [entry.__dict__ for entry in self.entries],
        }


async def read_ledger(pool: Queryable, merchant_id: str, customer_key: str) -> Ledger | None:
    """Return the customer's ledger; None when the merchant is unknown.

    ``balance`` is None when the customer has no points history.
    """
    merchant = await pool.fetchval("SELECT 1 FROM merchants WHERE merchant_id = $1", merchant_id)
    if merchant is None:
        return None
    balance = await pool.fetchval(
        "SELECT points FROM balances WHERE merchant_id = $1 AND customer_key = $2",
        merchant_id,
        customer_key,
    )
    if balance is None:
        # A known customer whose orders never earned points has a balance of zero.
        known = await pool.fetchval(
            "SELECT 1 FROM customers WHERE merchant_id = $1 AND customer_key = $2",
            merchant_id,
            customer_key,
        )
        return Ledger(merchant_id, customer_key, 0 if known else None)
    ledger = Ledger(merchant_id, customer_key, balance)
    rows = await pool.fetch(
        """
        SELECT position, event_id, event_type, data, recorded_at
        FROM events
        WHERE merchant_id = $1 AND customer_key = $2
          AND event_type IN ('PointsEarned', 'PointsRemoved')
        ORDER BY position
        """,
        merchant_id,
        customer_key,
    )
    for row in rows:
        data = row["data"]
        sign = 1 if row["event_type"] == "PointsEarned" else -1
        ledger.entries.append(
            LedgerEntry(
                position=row["position"],
                event_id=str(row["event_id"]),
                event_type=row["event_type"],
                points=sign * int(data["points"]),
                order_id=data["order_id"],
                order_number=data["order_number"],
                reason=data["reason"],
                occurred_at=data["occurred_at"],
                recorded_at=row["recorded_at"].isoformat(),
            )
        )
    return ledger
