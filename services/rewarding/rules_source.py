"""Port and default source of the rules each record is decided with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from services.common.db import Connection
from services.common.records import RecordId
from services.rewarding.rules import DEFAULT_RULES, RewardRules

RulesRequest = tuple[RecordId, str]
"""A record to decide, and the merchant it belongs to."""


class RulesSource(Protocol):
    """Port: the rewarding rules of each record of a batch, read in the batch's transaction."""

    async def rules_for(
        self, connection: Connection, requests: Sequence[RulesRequest]
    ) -> Mapping[RecordId, RewardRules]: ...


def per_merchant(
    requests: Sequence[RulesRequest], rules: Mapping[str, RewardRules]
) -> dict[RecordId, RewardRules]:
    """Return each requested record's rules from its merchant's ``rules``."""
    return {record: rules[merchant_id] for record, merchant_id in requests}


class DefaultRulesSource:
    """Rules with the product defaults for every merchant."""

    async def rules_for(
        self, connection: Connection, requests: Sequence[RulesRequest]
    ) -> Mapping[RecordId, RewardRules]:
        return {record: DEFAULT_RULES for record, _ in requests}
