"""Port and default source of the decider's rules, per merchant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from services.common.db import Connection
from services.rewarding.rules import DEFAULT_RULES, RewardRules


class RulesSource(Protocol):
    """Port: the current rewarding rules of each merchant."""

    async def rules_for(
        self, connection: Connection, merchant_ids: Iterable[str]
    ) -> Mapping[str, RewardRules]: ...


class DefaultRulesSource:
    """Rules with the product defaults for every merchant."""

    async def rules_for(
        self, connection: Connection, merchant_ids: Iterable[str]
    ) -> Mapping[str, RewardRules]:
        return dict.fromkeys(merchant_ids, DEFAULT_RULES)
