"""A whole replay: prepare the target, copy the merchants, consume, compare digests."""

from __future__ import annotations

import time
from dataclasses import dataclass

from services.common.db import create_pool, describe_database
from services.common.errors import ConfigurationError
from services.common.settings import RewardingSettings
from services.merchant_settings.rules_source import StoredSettingsRulesSource
from services.replay.consumer import (
    ReplayListener,
    ReplayOutcome,
    consume_until_caught_up,
    require_topic,
)
from services.replay.digest import LedgerDigest, ledger_digest
from services.replay.recorded_rules import (
    LiveHistory,
    RecordedRulesSource,
    RecordedSettings,
    load_live_history,
)
from services.replay.target import check_empty, copy_merchants, create_and_migrate
from services.rewarding.rules_source import RulesSource


@dataclass(frozen=True)
class ReplayResult:
    """Outcome of a replay, with the digests of the target's and the source's ledgers."""

    outcome: ReplayOutcome
    resumed: bool
    merchants_copied: int
    settings_events_copied: int
    settings_activations_read: int
    live_dead_letters_read: int
    target: LedgerDigest
    source: LedgerDigest | None
    seconds: float

    @property
    def identical(self) -> bool | None:
        """Whether the target's ledger equals the source's; None without a source."""
        return None if self.source is None else self.source == self.target


async def replay(
    settings: RewardingSettings,
    source_url: str | None,
    live_group_id: str,
    listener: ReplayListener,
    timeout_seconds: float,
) -> ReplayResult:
    """Replay ``settings.orders_topic`` into ``settings.database_url`` as a new group.

    With ``source_url``, the live group's settings activations and the records
    it dead-lettered are read from there, and the merchants and their settings
    are copied. The replay dead-letters the records the live group
    dead-lettered, and decides each other record the live group consumed with
    the settings version the live group used for it. The ledgers are compared
    afterwards. Without ``source_url``, decisions use each merchant's current
    settings in the target.
    """
    started = time.monotonic()
    target_url = settings.database_url
    if settings.rewarding_group_id == live_group_id:
        raise ConfigurationError(
            f"--group-id {live_group_id!r} is the live rewarding consumer's group; joining it "
            "would take partitions from the live consumer. Pass a new group id"
        )
    if source_url is not None and describe_database(source_url) == describe_database(target_url):
        raise ConfigurationError(
            f"the source and target database are both {describe_database(target_url)}; "
            "pass another --database-url"
        )
    # Checked first, so that a replay that cannot start leaves no new database behind.
    await require_topic(settings)
    await create_and_migrate(target_url)

    pool = await create_pool(target_url, max_size=2)
    try:
        async with pool.acquire() as connection:
            resumed = await check_empty(
                connection, settings.rewarding_group_id, settings.orders_topic
            )
        merchants = settings_events = 0
        live = LiveHistory(RecordedSettings({}, {}), {})
        rules_source: RulesSource = StoredSettingsRulesSource()
        if source_url is not None:
            source_pool = await create_pool(source_url, max_size=1)
            try:
                async with source_pool.acquire() as source, pool.acquire() as target:
                    # Read before the copy, so every version they name is copied.
                    live = await load_live_history(source, live_group_id, settings.orders_topic)
                    merchants, settings_events = await copy_merchants(source, target)
            finally:
                await source_pool.close()
            rules_source = RecordedRulesSource(live.settings)

        outcome = await consume_until_caught_up(
            settings, pool, rules_source, live.dead_letters, listener, timeout_seconds
        )

        async with pool.acquire() as connection:
            target_digest = await ledger_digest(connection)
    finally:
        await pool.close()

    source_digest = None
    if source_url is not None:
        source_pool = await create_pool(source_url, max_size=1)
        try:
            async with source_pool.acquire() as connection:
                source_digest = await ledger_digest(connection)
        finally:
            await source_pool.close()
    return ReplayResult(
        outcome,
        resumed,
        merchants,
        settings_events,
        live.settings.count,
        len(live.dead_letters),
        target_digest,
        source_digest,
        time.monotonic() - started,
    )
