"""``loyalty dlq list`` and ``loyalty dlq replay`` against the real broker and database."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import asyncpg
import pytest

from services.common.settings import CommonSettings
from services.rewarding.consumer import RewardingService
from tests.support.kafka import wait_until
from tests.support.pipeline import (
    expected_entries,
    ledger_entries,
    paid_orders,
    publish_events,
    register_merchant,
    rewarding_settings,
)

pytestmark = pytest.mark.integration


async def loyalty(settings: CommonSettings, *arguments: str) -> tuple[int, str]:
    environment = {
        **os.environ,
        "LOYALTY_DATABASE_URL": settings.database_url,
        "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "LOYALTY_KAFKA_IDEMPOTENCE": "false",
        "LOYALTY_ORDERS_TOPIC": settings.orders_topic,
        "COLUMNS": "200",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli.main",
        "dlq",
        *arguments,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_replay_after_fix_applies_once(
    settings: CommonSettings, pool: asyncpg.Pool, unique: str
) -> None:
    merchant_id = f"late-{unique}"
    orders = paid_orders(merchant_id, 2)
    await publish_events(settings, orders)
    service = RewardingService(rewarding_settings(settings, f"rewarding-{unique}"))
    await service.app.start()
    try:
        letters = await wait_until(lambda: _letters(settings, count=2), 30)
        assert {letter["error_type"] for letter in letters} == {"UnknownMerchant"}
        assert all(merchant_id in letter["reason"] for letter in letters)
        assert not any(letter["replayed"] for letter in letters)

        await register_merchant(pool, merchant_id, int(unique[:6], 16) + 7)
        code, dry_run = await loyalty(settings, "replay", "--dry-run")
        assert code == 0, dry_run
        assert "would replay 2 dead letters" in dry_run
        assert await ledger_entries(pool, merchant_id) == {}

        code, replayed = await loyalty(settings, "replay")
        assert code == 0, replayed
        assert "replayed 2 dead letters" in replayed
        await wait_until(lambda: _entries_are(pool, merchant_id, orders), 30)

        code, again = await loyalty(settings, "replay")
        assert code == 0, again
        assert "replayed 0 dead letters" in again
        code, listed = await loyalty(settings, "list", "--json")
        assert all(json.loads(line)["replayed"] for line in listed.splitlines())
    finally:
        await service.app.stop()
    assert await ledger_entries(pool, merchant_id) == expected_entries(orders)


async def test_list_names_unreachable_broker(settings: CommonSettings) -> None:
    broken = CommonSettings(**{**settings.model_dump(), "kafka_bootstrap_servers": "127.0.0.1:1"})

    code, output = await loyalty(broken, "list")

    assert code == 1
    assert "127.0.0.1:1" in output


async def _entries_are(pool: asyncpg.Pool, merchant_id: str, orders: list) -> bool:  # type: ignore[type-arg]
    return await ledger_entries(pool, merchant_id) == expected_entries(orders)


async def _letters(settings: CommonSettings, count: int) -> list[dict[str, object]] | None:
    code, listed = await loyalty(settings, "list", "--json")
    assert code == 0, listed
    letters = [json.loads(line) for line in listed.splitlines()]
    return letters if len(letters) >= count else None
