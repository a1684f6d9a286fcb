"""Digests that show whether two databases hold the same ledger.

Compared: per order stream, the sequence of (stream version, event id, event
type, data), and each balance's points. Not compared, because they record when
and in which global order a database received the events: ``position``,
``tx_id``, ``recorded_at``, ``metadata`` (trace context) and
``balances.last_position``.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.db import Connection


@dataclass(frozen=True)
class LedgerDigest:
    """MD5 digests of the order streams and of the balances, with their sizes."""

    streams: int
    events: int
    events_md5: str
    balances: int
    balances_md5: str


async def ledger_digest(connection: Connection) -> LedgerDigest:
    """Return the digest of the order streams and balances in the database."""
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        events = await connection.fetchrow(
            """
            SELECT count(DISTINCT stream_id) AS streams, count(*) AS events,
                   md5(coalesce(string_agg(
                       concat_ws(' ', stream_id, stream_version, event_id, event_type, data::text),
                       E'\\n' ORDER BY stream_id COLLATE "C", stream_version), '')) AS md5
            FROM events
            WHERE stream_id LIKE 'order:%'
            """
        )
        balances = await connection.fetchrow(
            """
            SELECT count(*) AS balances,
                   md5(coalesce(string_agg(
                       concat_ws(' ', merchant_id, customer_key, points),
                       E'\\n' ORDER BY merchant_id COLLATE "C", customer_key COLLATE "C"), ''))
                   AS md5
            FROM balances
            """
        )
    assert events is not None
    assert balances is not None
    return LedgerDigest(
        events["streams"], events["events"], events["md5"], balances["balances"], balances["md5"]
    )
