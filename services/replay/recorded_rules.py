"""Deciding each replayed record with the settings version the live consumer group used.

The live consumer decides a batch with each merchant's settings current at
that moment, and records from which offset of each partition it used each
version (``settings_activations``) and which records it dead-lettered
(``dead_lettered_records``). A replay reads both and the live group's offsets
from the source database in one snapshot. It dead-letters the records the live
group dead-lettered. A record the live group had consumed is decided with the
version in effect at its offset. Records it had not consumed get the merchant's
current settings, as the live consumer would give them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.common.db import Connection
from services.common.errors import LoyaltyError
from services.common.records import RecordId
from services.merchant_settings.rules_source import StoredSettingsRulesSource
from services.merchant_settings.store import settings_at_version
from services.rewarding.rules import RewardRules
from services.rewarding.rules_source import RulesRequest
from services.store.dead_lettered import load_dead_lettered
from services.store.offsets import stored_offsets
from services.store.settings_activations import ActivationKey, load_activations


class MissingSettingsVersionError(LoyaltyError):
    """A settings version the live consumer used is not in the replay's database."""


@dataclass(frozen=True)
class RecordedSettings:
    """The live group's settings activations and next offsets on one topic."""

    activations: Mapping[ActivationKey, tuple[tuple[int, int], ...]]
    """Per key, ``(from_offset, version)`` in offset order."""
    next_offsets: Mapping[int, int]
    """Per partition, the next offset the live group had to consume."""

    @property
    def count(self) -> int:
        return sum(len(steps) for steps in self.activations.values())

    def version_at(self, record: RecordId, merchant_id: str) -> int | None:
        """Return the version the live group decided ``record`` with, or None if unknown."""
        topic, partition, offset = record
        if offset >= self.next_offsets.get(partition, 0):
            return None
        steps = self.activations.get((topic, partition, merchant_id), ())
        index = bisect_right(steps, offset, key=lambda step: step[0]) - 1
        return steps[index][1] if index >= 0 else None


@dataclass(frozen=True)
class LiveHistory:
    """The live group's settings activations and dead letters, which a replay follows."""

    settings: RecordedSettings
    dead_letters: Mapping[RecordId, tuple[str, str]]
    """Per record the live group dead-lettered, the error type and reason."""


async def load_live_history(connection: Connection, group_id: str, topic: str) -> LiveHistory:
    """Read the activations, offsets and dead letters of ``group_id`` on ``topic`` at once."""
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        activations = await load_activations(connection, group_id, topic)
        offsets = await stored_offsets(connection, group_id, topic)
        dead_letters = await load_dead_lettered(connection, group_id, topic)
    steps: dict[ActivationKey, list[tuple[int, int]]] = defaultdict(list)
    for activation in activations:
        steps[activation.key].append((activation.from_offset, activation.version))
    settings = RecordedSettings({key: tuple(value) for key, value in steps.items()}, offsets)
    return LiveHistory(settings, dead_letters)


class RecordedRulesSource:
    """Source of the rules the live group used for each record, or of the current settings."""

    def __init__(self, recorded: RecordedSettings) -> None:
        self._recorded = recorded
        self._current = StoredSettingsRulesSource()
        self._versions: dict[tuple[str, int], RewardRules] = {}

    async def rules_for(
        self, connection: Connection, requests: Sequence[RulesRequest]
    ) -> Mapping[RecordId, RewardRules]:
        rules = dict(await self._current.rules_for(connection, requests))
        for record, merchant_id in requests:
            version = self._recorded.version_at(record, merchant_id)
            if version is not None:
                rules[record] = await self._rules_at(connection, merchant_id, version)
        return rules

    async def _rules_at(
        self, connection: Connection, merchant_id: str, version: int
    ) -> RewardRules:
        key = (merchant_id, version)
        if key not in self._versions:
            settings = await settings_at_version(connection, merchant_id, version)
            if settings is None:
                raise MissingSettingsVersionError(
                    f"the live consumer decided records of {merchant_id!r} with settings "
                    f"version {version}, which the replay database does not hold; copy the "
                    "merchants and settings from the source database (--copy-merchants)"
                )
            self._versions[key] = settings.rules()
        return self._versions[key]
