"""Preparing the database a replay writes into."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from services.common.db import Connection
from services.common.errors import LoyaltyError
from services.devstack.database import database_name, with_database
from services.store import migrate

logger = logging.getLogger(__name__)


class TargetNotEmptyError(LoyaltyError):
    """The target database contains order events that this replay did not write."""


async def create_and_migrate(url: str) -> None:
    """Create the database of ``url`` when it does not exist, then migrate it."""
    name = database_name(url)
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            escaped = name.replace('"', '""')
            await admin.execute(f'CREATE DATABASE "{escaped}"')
            logger.info("created database %s", name)
    finally:
        await admin.close()
    await asyncio.to_thread(migrate.upgrade, url)


async def check_empty(connection: Connection, group_id: str, topic: str) -> bool:
    """Return whether a replay of ``group_id`` resumes; raise if others wrote order events."""
    resumes = bool(
        await connection.fetchval(
            "SELECT 1 FROM consumer_offsets WHERE group_id = $1 AND topic = $2 LIMIT 1",
            group_id,
            topic,
        )
    )
    if resumes:
        return True
    other = await connection.fetchval(
        "SELECT stream_id FROM events WHERE stream_id LIKE 'order:%' LIMIT 1"
    )
    if other is not None:
        raise TargetNotEmptyError(
            f"the target database contains order events (such as {other}) but no offsets of "
            f"group {group_id!r}; replay into an empty database, or pass the --group-id of "
            "the replay that wrote them to resume it"
        )
    return False


async def copy_merchants(source: Connection, target: Connection) -> tuple[int, int]:
    """Copy the merchants, their settings events and settings projection to ``target``.

    Returns how many merchants and settings events were new in the target. Rows
    that exist there are left as they are.
    """
    merchants = await source.fetch(
        "SELECT merchant_id, cluster_id, shop_id, webhook_secret, display_name, base_currency, "
        "created_at FROM merchants ORDER BY merchant_id"
    )
    settings_events = await source.fetch(
        "SELECT stream_id, stream_version, event_id, event_type, merchant_id, customer_key, "
        "data, metadata FROM events WHERE event_type = 'SettingsChanged' ORDER BY position"
    )
    projection = await source.fetch("SELECT merchant_id, version, settings FROM merchant_settings")
    async with target.transaction():
        new_merchants = await target.fetchval(
            """
            WITH added AS (
                INSERT INTO merchants (merchant_id, cluster_id, shop_id, webhook_secret,
                                       display_name, base_currency, created_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[],
                                     $5::text[], $6::text[], $7::timestamptz[])
                ON CONFLICT DO NOTHING
                RETURNING 1
            )
            SELECT count(*) FROM added
            """,
            *_columns(merchants, 7),
        )
        new_events = await target.fetchval(
            """
            WITH added AS (
                INSERT INTO events (stream_id, stream_version, event_id, event_type, merchant_id,
                                    customer_key, data, metadata)
                SELECT * FROM unnest($1::text[], $2::int[], $3::uuid[], $4::text[], $5::text[],
                                     $6::text[], $7::jsonb[], $8::jsonb[])
                ON CONFLICT DO NOTHING
                RETURNING 1
            )
            SELECT count(*) FROM added
            """,
            *_columns(settings_events, 8),
        )
        await target.execute(
            """
            INSERT INTO merchant_settings (merchant_id, version, settings)
            SELECT * FROM unnest($1::text[], $2::int[], $3::jsonb[])
            ON CONFLICT (merchant_id) DO UPDATE
            SET version = excluded.version, settings = excluded.settings
            WHERE merchant_settings.version < excluded.version
            """,
            *_columns(projection, 3),
        )
    return int(new_merchants), int(new_events)


def _columns(rows: list[asyncpg.Record], width: int) -> list[list[object]]:
    return [[row[index] for row in rows] for index in range(width)]
