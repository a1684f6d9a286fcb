"""PostgreSQL connection pools (asyncpg)."""

from __future__ import annotations

import json
import logging
from typing import TypeAlias
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.common.errors import ServiceUnavailableError

logger = logging.getLogger(__name__)


def describe_database(url: str) -> str:
    """Return ``host:port/dbname`` of ``url`` without the password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


def _encode_json(value: object) -> str:
    # Text passes through, so callers can hand over JSON that pydantic serialized.
    return value if isinstance(value, str) else json.dumps(value)


async def _init_connection(connection: Connection) -> None:
    await connection.set_type_codec(
        "jsonb", encoder=_encode_json, decoder=json.loads, schema="pg_catalog"
    )


async def create_pool(url: str, *, max_size: int = 5) -> asyncpg.Pool:
    """Open a pool to ``url`` or raise ServiceUnavailableError naming what to start."""
    try:
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=max_size, init=_init_connection, command_timeout=60
        )
    except (OSError, asyncpg.CannotConnectNowError) as error:
        raise ServiceUnavailableError(
            f"PostgreSQL at {describe_database(url)} is not reachable ({error}). "
            "Start it, for example with "
            "'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start', "
            "or set LOYALTY_DATABASE_URL."
        ) from error
    except asyncpg.InvalidCatalogNameError as error:
        raise ServiceUnavailableError(
            f"database {describe_database(url)} does not exist. Check LOYALTY_DATABASE_URL "
            "(the local stack of 'make up' uses loyalty_local), or create the database and run "
            "'loyalty db migrate'."
        ) from error
    logger.info("connected to PostgreSQL at %s", describe_database(url))
    return pool


Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
"""A connection, whether opened directly or acquired from a pool."""

Queryable: TypeAlias = "Connection | asyncpg.Pool[asyncpg.Record]"
"""Anything that runs a query: a connection or a pool."""
