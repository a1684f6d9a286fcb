"""Creating and dropping the local databases of the stack and the tests."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from services.common.errors import ServiceUnavailableError


def with_database(url: str, name: str) -> str:
    """Return ``url`` pointing at the database ``name`` on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


async def recreate_database(url: str) -> None:
    """Drop the database of ``url`` if it exists, then create it empty."""
    name = database_name(url)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"database name {name!r} must be lower-case letters, digits and _")
    try:
        admin = await asyncpg.connect(with_database(url, "postgres"))
    except OSError as error:
        raise ServiceUnavailableError(
            f"PostgreSQL at {urlsplit(url).hostname}:{urlsplit(url).port or 5432} does not "
            f"answer ({error}). Start it with "
            "'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'."
        ) from error
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def drop_database(url: str) -> None:
    name = database_name(url)
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
