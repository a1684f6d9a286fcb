"""The merchant settings an award was decided under, read from the settings stream.

``PointsEarned.rule_version`` is the settings version the decider ran with, so
the email follows the settings of the moment of the award, and reprocessing the
same event later gives the same result even after the merchant changed them.
"""

from __future__ import annotations

from services.common.db import Connection
from services.merchant_settings.model import DEFAULT_SETTINGS, MerchantSettings
from services.merchant_settings.store import load_settings, settings_stream_id


async def settings_for_award(
    connection: Connection, merchant_id: str, rule_version: int
) -> MerchantSettings:
    """Return the merchant's settings at ``rule_version``.

    Version 1 is the defaults. When the stream has no event for the version,
    which happens only for awards decided by a source other than the stored
    settings, the merchant's current settings apply.
    """
    if rule_version == DEFAULT_SETTINGS.version:
        return DEFAULT_SETTINGS
    stored = await connection.fetchval(
        """
        SELECT data -> 'settings' FROM events
        WHERE stream_id = $1 AND event_type = 'SettingsChanged'
          AND (data -> 'settings' ->> 'version')::int = $2
        """,
        settings_stream_id(merchant_id),
        rule_version,
    )
    if stored is not None:
        return MerchantSettings.model_validate(stored)
    current = await load_settings(connection, [merchant_id])
    return current[merchant_id]
