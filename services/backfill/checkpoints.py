"""Backfill progress per (merchant, since) in ``backfill_checkpoints``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.common.db import Queryable
from services.common.errors import LoyaltyError


class CheckpointMismatchError(LoyaltyError):
    """A stored checkpoint was written with another page size, so its page numbers differ."""


@dataclass(frozen=True)
class Checkpoint:
    """Pages ``1..last_page`` of ``page_size`` orders are published."""

    merchant_id: str
    since: datetime
    page_size: int
    last_page: int
    orders_published: int
    orders_rejected: int
    completed_at: datetime | None


_COLUMNS = (
    "merchant_id, since, page_size, last_page, orders_published, orders_rejected, completed_at"
)


async def open_checkpoint(
    connection: Queryable, merchant_id: str, since: datetime, page_size: int, *, restart: bool
) -> Checkpoint:
    """Return the checkpoint of (merchant, since), created at page 0 when none is stored.

    ``restart`` sets a stored checkpoint back to page 0.
    """
    if restart:
        await connection.execute(
            "DELETE FROM backfill_checkpoints WHERE merchant_id = $1 AND since = $2",
            merchant_id,
            since,
        )
    await connection.execute(
        """
        INSERT INTO backfill_checkpoints (merchant_id, since, page_size) VALUES ($1, $2, $3)
        ON CONFLICT (merchant_id, since) DO NOTHING
        """,
        merchant_id,
        since,
        page_size,
    )
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM backfill_checkpoints WHERE merchant_id = $1 AND since = $2",  # noqa: S608
        merchant_id,
        since,
    )
    assert row is not None
    checkpoint = Checkpoint(**dict(row))
    if checkpoint.page_size != page_size:
        raise CheckpointMismatchError(
            f"the backfill of {merchant_id} since {since.isoformat()} stopped at page "
            f"{checkpoint.last_page} of {checkpoint.page_size} orders; resume it with "
            f"--page-size {checkpoint.page_size}, or start over with --restart"
        )
    return checkpoint


async def save_page(
    connection: Queryable,
    checkpoint: Checkpoint,
    page: int,
    published: int,
    rejected: int,
    *,
    completed: bool,
) -> Checkpoint:
    """Record page ``page`` as published and return the new checkpoint."""
    completed_at = await connection.fetchval(
        """
        UPDATE backfill_checkpoints
        SET last_page = $3, orders_published = orders_published + $4,
            orders_rejected = orders_rejected + $5, updated_at = now(),
            completed_at = CASE WHEN $6 THEN now() END
        WHERE merchant_id = $1 AND since = $2
        RETURNING completed_at
        """,
        checkpoint.merchant_id,
        checkpoint.since,
        page,
        published,
        rejected,
        completed,
    )
    return Checkpoint(
        checkpoint.merchant_id,
        checkpoint.since,
        checkpoint.page_size,
        page,
        checkpoint.orders_published + published,
        checkpoint.orders_rejected + rejected,
        completed_at,
    )
