"""Rules for the decider from the merchants' stored settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from services.common.db import Connection
from services.merchant_settings.store import load_settings
from services.rewarding.rules import RewardRules


class StoredSettingsRulesSource:
    """Reads each merchant's current settings in the batch's transaction.

    NOTE: a decision uses the settings current when its batch is processed, so a
    record consumed before a settings change and replayed after it is decided
    with different rules. Replays match the live ledger only while settings did
    not change in between.
    """

    async def rules_for(
        self, connection: Connection, merchant_ids: Iterable[str]
    ) -> Mapping[str, RewardRules]:
        settings = await load_settings(connection, merchant_ids)
        return {merchant_id: value.rules() for merchant_id, value in settings.items()}
