"""Deterministic event ids.

An id is a UUIDv5 over the source facts, so the same webhook delivered twice,
or the same order loaded again by a backfill, yields the same id.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from decimal import Decimal

# Fixed namespace for every id this product derives. Changing it changes every id.
EVENT_ID_NAMESPACE = uuid.UUID("6f1f3c52-8a0e-5d7b-9c41-2b7e0d9a4c13")
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


def derive_event_id(*parts: str) -> uuid.UUID:
    """Return the UUIDv5 of ``parts`` joined with a separator that no part contains."""
    for part in parts:
        if "\x1f" in part:
            raise ValueError(f"event id part {part!r} contains the unit separator U+001F")
    # The steps of uuid.uuid5, with the namespace's bytes computed once.
    digest = hashlib.sha1(_NAMESPACE_BYTES + "\x1f".join(parts).encode()).digest()
    return uuid.UUID(bytes=digest[:16], version=5)


def order_status_event_id(
    *,
    source: str,
    merchant_id: str,
    order_id: str,
    occurred_at: datetime,
    payment_status: str,
    order_status: str,
    total_incl: Decimal,
) -> uuid.UUID:
    """Return the id of an order status change from the facts that identify it."""
    return derive_event_id(
        "OrderStatusChanged",
        source,
        merchant_id,
        order_id,
        occurred_at.isoformat(),
        payment_status,
        order_status,
        # normalize() makes 10.5 and 10.50 the same fact.
        str(total_incl.normalize()),
    )


def order_refunded_event_id(
    *,
    source: str,
    merchant_id: str,
    order_id: str,
    invoice_id: str,
    occurred_at: datetime,
    refunded_incl: Decimal,
) -> uuid.UUID:
    """Return the id of a credit invoice version from the facts that identify it."""
    return derive_event_id(
        "OrderRefunded",
        source,
        merchant_id,
        order_id,
        invoice_id,
        occurred_at.isoformat(),
        str(refunded_incl.normalize()),
    )
