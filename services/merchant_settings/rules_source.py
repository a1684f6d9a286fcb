"""Rules for the decider from the merchants' stored settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.common.db import Connection
from services.common.records import RecordId
from services.merchant_settings.store import load_settings
from services.rewarding.rules import RewardRules
from services.rewarding.rules_source import RulesRequest, per_merchant


class StoredSettingsRulesSource:
    """Source of each record's rules: its merchant's current settings, read in the batch.

    A settings change applies from the next batch on. The processor records, per
    partition and merchant, the offset from which each settings version was used
    (``settings_activations``), so a replay can decide every record with the
    version this source gave it.
    """

    async def rules_for(
        self, connection: Connection, requests: Sequence[RulesRequest]
    ) -> Mapping[RecordId, RewardRules]:
        settings = await load_settings(connection, {merchant_id for _, merchant_id in requests})
        return per_merchant(
            requests, {merchant_id: value.rules() for merchant_id, value in settings.items()}
        )
