"""The ``email_jobs`` and ``email_skips`` tables: what to send, what was sent, what was skipped."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.common.db import Connection, Queryable

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class EmailJob:
    """An earned-points email to send, with everything its content needs."""

    event_id: uuid.UUID
    merchant_id: str
    customer_key: str
    order_id: str
    order_number: str
    points: int
    balance_after: int
    recipient: str
    first_name: str | None
    shop_name: str
    language: str
    due_at: datetime
    attempts: int = 0


_JOB_COLUMNS = (
    "event_id, merchant_id, customer_key, order_id, order_number, points, balance_after, "
    "recipient, first_name, shop_name, language, due_at, attempts"
)


async def insert_job(connection: Connection, job: EmailJob) -> bool:
    """Record ``job`` unless a job for its event exists; return whether it was inserted."""
    inserted = await connection.fetchval(
        """
        INSERT INTO email_jobs (event_id, merchant_id, customer_key, order_id, order_number,
                                points, balance_after, recipient, first_name, shop_name,
                                language, due_at, next_attempt_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
        ON CONFLICT (event_id) DO NOTHING
        RETURNING true
        """,
        job.event_id,
        job.merchant_id,
        job.customer_key,
        job.order_id,
        job.order_number,
        job.points,
        job.balance_after,
        job.recipient,
        job.first_name,
        job.shop_name,
        job.language,
        job.due_at,
    )
    return bool(inserted)


async def record_skip(
    connection: Connection, event_id: uuid.UUID, merchant_id: str, reason: str
) -> bool:
    """Record that the award ``event_id`` gets no email; return whether it was new."""
    inserted = await connection.fetchval(
        """
        INSERT INTO email_skips (event_id, merchant_id, reason) VALUES ($1, $2, $3)
        ON CONFLICT (event_id) DO NOTHING
        RETURNING true
        """,
        event_id,
        merchant_id,
        reason,
    )
    return bool(inserted)


async def cancel_job(connection: Connection, award_event_id: uuid.UUID) -> bool:
    """Cancel the pending email of the award ``award_event_id``; return whether one was pending.

    A job being sent is locked by its sender, so this waits for the send to finish
    and then finds the job sent: a removal never cancels an email already out.
    """
    cancelled = await connection.fetchval(
        """
        UPDATE email_jobs SET status = 'cancelled', finished_at = now()
        WHERE event_id = $1 AND status = 'pending'
        RETURNING true
        """,
        award_event_id,
    )
    return bool(cancelled)


async def claim_due_job(connection: Connection) -> EmailJob | None:
    """Lock and return the pending job due first, skipping jobs other senders hold.

    Must run inside a transaction; the row lock lasts until it ends.
    """
    row = await connection.fetchrow(
        f"""
        SELECT {_JOB_COLUMNS} FROM email_jobs
        WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
        """  # noqa: S608
    )
    return EmailJob(**dict(row)) if row else None


async def mark_sent(connection: Connection, event_id: uuid.UUID) -> None:
    await connection.execute(
        """
        UPDATE email_jobs SET status = 'sent', attempts = attempts + 1, last_error = NULL,
                              finished_at = now()
        WHERE event_id = $1
        """,
        event_id,
    )


async def mark_retry(
    connection: Connection, event_id: uuid.UUID, error: str, delay_seconds: float
) -> None:
    await connection.execute(
        """
        UPDATE email_jobs
        SET attempts = attempts + 1, last_error = $2,
            next_attempt_at = now() + make_interval(secs => $3)
        WHERE event_id = $1
        """,
        event_id,
        error,
        delay_seconds,
    )


async def mark_failed(connection: Connection, event_id: uuid.UUID, error: str) -> None:
    await connection.execute(
        """
        UPDATE email_jobs SET status = 'failed', attempts = attempts + 1, last_error = $2,
                              finished_at = now()
        WHERE event_id = $1
        """,
        event_id,
        error,
    )


async def count_jobs(connection: Queryable, merchant_id: str | None = None) -> dict[str, int]:
    """Return the number of email jobs per status, of one merchant or of all."""
    rows = await connection.fetch(
        """
        SELECT status, count(*) AS jobs FROM email_jobs
        WHERE $1::text IS NULL OR merchant_id = $1
        GROUP BY status
        """,
        merchant_id,
    )
    return {row["status"]: row["jobs"] for row in rows}


async def count_skips(connection: Queryable, merchant_id: str | None = None) -> dict[str, int]:
    """Return the number of awards that got no email, per reason."""
    rows = await connection.fetch(
        """
        SELECT reason, count(*) AS skips FROM email_skips
        WHERE $1::text IS NULL OR merchant_id = $1
        GROUP BY reason
        """,
        merchant_id,
    )
    return {row["reason"]: row["skips"] for row in rows}


async def retry_failed_job(connection: Connection, event_id: uuid.UUID) -> str | None:
    """Make a failed job pending again with fresh attempts; return its previous status.

    Returns None when no job has that event id. Jobs in other states stay as they
    are, because a sent or cancelled email must not go out (again). Must run
    inside a transaction.
    """
    status: str | None = await connection.fetchval(
        "SELECT status FROM email_jobs WHERE event_id = $1 FOR UPDATE", event_id
    )
    if status == FAILED:
        await connection.execute(
            """
            UPDATE email_jobs
            SET status = 'pending', attempts = 0, next_attempt_at = now(), finished_at = NULL
            WHERE event_id = $1
            """,
            event_id,
        )
    return status
