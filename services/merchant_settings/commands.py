"""Showing and changing a merchant's settings, shared by the HTTP API and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import ValidationError

from services.common.db import Queryable
from services.merchant_settings.errors import (
    MerchantNotFoundError,
    SettingsRejectedError,
    SettingsVersionConflictError,
    setting_problems,
    unknown_settings,
)
from services.merchant_settings.model import MerchantSettings
from services.merchant_settings.store import change_settings, load_settings, settings_stream_id
from services.store.merchants import find_by_id, not_registered


async def show_settings(pool: asyncpg.Pool, merchant_id: str) -> MerchantSettings:
    """Return the merchant's current settings; raise MerchantNotFoundError if unknown."""
    async with pool.acquire() as connection:
        await _require_merchant(connection, merchant_id)
        return (await load_settings(connection, [merchant_id]))[merchant_id]


async def settings_history(pool: asyncpg.Pool, merchant_id: str) -> list[dict[str, Any]]:
    """Return every recorded settings change of the merchant, oldest first.

    Each entry has the new ``version``, the ``actor``, ``changed_at`` and the
    ``changes`` as sent. Raises MerchantNotFoundError if the merchant is unknown.
    """
    async with pool.acquire() as connection:
        await _require_merchant(connection, merchant_id)
        rows = await connection.fetch(
            "SELECT data FROM events WHERE stream_id = $1 ORDER BY stream_version",
            settings_stream_id(merchant_id),
        )
    return [
        {
            "version": row["data"]["settings"]["version"],
            "actor": row["data"]["actor"],
            "changed_at": row["data"]["changed_at"],
            "changes": row["data"]["changes"],
        }
        for row in rows
    ]


async def update_settings(
    pool: asyncpg.Pool,
    merchant_id: str,
    changes: dict[str, Any],
    *,
    actor: str,
    expected_version: int | None = None,
) -> MerchantSettings:
    """Apply ``changes`` (only the settings named) and return the new settings.

    Raises SettingsRejectedError naming every invalid field, MerchantNotFoundError,
    or SettingsVersionConflictError when ``expected_version`` is not current.
    """
    problems = unknown_settings(changes)
    if problems:
        raise SettingsRejectedError(problems)
    async with pool.acquire() as connection, connection.transaction():
        await _require_merchant(connection, merchant_id)
        if expected_version is not None:
            current = (await load_settings(connection, [merchant_id]))[merchant_id]
            if current.version != expected_version:
                raise SettingsVersionConflictError(
                    f"settings of {merchant_id!r} are at version {current.version}, not "
                    f"{expected_version}; read them again and resend the change"
                )
        try:
            return await change_settings(
                connection, merchant_id, changes, actor=actor, changed_at=datetime.now(UTC)
            )
        except ValidationError as error:
            raise SettingsRejectedError(setting_problems(error)) from error


async def _require_merchant(connection: Queryable, merchant_id: str) -> None:
    if await find_by_id(connection, merchant_id) is None:
        raise MerchantNotFoundError(not_registered(merchant_id))
