"""Reading and changing merchant settings.

Each change is a ``SettingsChanged`` event, with the actor and the time, appended
to the stream ``settings:<merchant_id>`` in the event store. The
``merchant_settings`` table is the projection of the latest version and is
updated in the same transaction. A merchant without a settings event has the defaults at
version 1.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from schemas.ids import derive_event_id
from services.common.db import Connection
from services.merchant_settings.model import DEFAULT_SETTINGS, MerchantSettings
from services.store.event_store import NewEvent, append


class SettingsChanged(BaseModel):
    """A change to a merchant's settings, as recorded in the settings stream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: Literal["SettingsChanged"] = "SettingsChanged"
    event_id: uuid.UUID
    merchant_id: str
    actor: str
    changed_at: AwareDatetime
    changes: dict[str, Any]
    settings: MerchantSettings


def settings_stream_id(merchant_id: str) -> str:
    return f"settings:{merchant_id}"


async def load_settings(
    connection: Connection, merchant_ids: Iterable[str]
) -> dict[str, MerchantSettings]:
    """Return the current settings of each merchant, the defaults where none were set."""
    ids = sorted(set(merchant_ids))
    rows = await connection.fetch(
        "SELECT merchant_id, settings FROM merchant_settings WHERE merchant_id = ANY($1::text[])",
        ids,
    )
    stored = {row["merchant_id"]: MerchantSettings.model_validate(row["settings"]) for row in rows}
    return {merchant_id: stored.get(merchant_id, DEFAULT_SETTINGS) for merchant_id in ids}


async def settings_at_version(
    connection: Connection, merchant_id: str, version: int
) -> MerchantSettings | None:
    """Return the merchant's settings at ``version``, or None when it was never set."""
    if version == DEFAULT_SETTINGS.version:
        return DEFAULT_SETTINGS
    data = await connection.fetchval(
        "SELECT data FROM events WHERE stream_id = $1 AND stream_version = $2",
        settings_stream_id(merchant_id),
        version - 1,
    )
    return None if data is None else MerchantSettings.model_validate(data["settings"])


async def change_settings(
    connection: Connection,
    merchant_id: str,
    changes: dict[str, Any],
    *,
    actor: str,
    changed_at: datetime,
) -> MerchantSettings:
    """Apply ``changes`` to the merchant's settings and return the new version.

    Raises pydantic.ValidationError naming the invalid field and the allowed values.
    Must run inside a transaction; the row lock serializes concurrent changes.
    """
    row = await connection.fetchrow(
        "SELECT settings FROM merchant_settings WHERE merchant_id = $1 FOR UPDATE", merchant_id
    )
    current = MerchantSettings.model_validate(row["settings"]) if row else DEFAULT_SETTINGS
    merged = {**current.model_dump(), **changes, "version": current.version + 1}
    updated = MerchantSettings.model_validate(merged)
    event = SettingsChanged(
        event_id=derive_event_id("SettingsChanged", merchant_id, str(updated.version)),
        merchant_id=merchant_id,
        actor=actor,
        changed_at=changed_at,
        changes=changes,
        settings=updated,
    )
    # Version 1 is the implicit defaults, so the first change is stream version 1 too.
    await append(
        connection,
        [NewEvent(settings_stream_id(merchant_id), updated.version - 1, merchant_id, None, event)],
    )
    await connection.execute(
        """
        INSERT INTO merchant_settings (merchant_id, version, settings)
        VALUES ($1, $2, $3)
        ON CONFLICT (merchant_id) DO UPDATE
        SET version = excluded.version, settings = excluded.settings
        """,
        merchant_id,
        updated.version,
        updated.model_dump(mode="json"),
    )
    return updated
