"""The ``loyalty`` command, run as a user runs it: a subprocess with LOYALTY_* variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

pytestmark = pytest.mark.integration


def loyalty(database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "LOYALTY_DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_db_migrate_reports_revision(database_url: str) -> None:
    result = loyalty(database_url, "db", "migrate")

    assert result.returncode == 0, result.stderr
    assert "database at revision" in result.stdout


async def test_merchant_add_registers_shop(
    database_url: str, pool: asyncpg.Pool, unique: str
) -> None:
    shop_id = str(int(unique[:6], 16) + 100)

    result = loyalty(
        database_url,
        "merchant",
        "add",
        "--shop-id",
        shop_id,
        "--secret",
        "abc",
        "--name",
        "CLI Shop",
        "--cluster",
        "us1",
        "--currency",
        "usd",
    )

    assert result.returncode == 0, result.stderr
    assert f"ls-us1-{shop_id}" in result.stdout
    row = await pool.fetchrow("SELECT * FROM merchants WHERE merchant_id = $1", f"ls-us1-{shop_id}")
    assert row["display_name"] == "CLI Shop"
    assert row["base_currency"] == "USD"


def test_merchant_add_twice_fails_with_message(database_url: str, unique: str) -> None:
    shop_id = str(int(unique[:6], 16) + 200)
    arguments = ("merchant", "add", "--shop-id", shop_id, "--secret", "abc", "--name", "Twice")

    first = loyalty(database_url, *arguments)
    second = loyalty(database_url, *arguments)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 1
    assert "registered already" in second.stderr


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--cluster", "eu2", "--cluster 'eu2' is invalid"), ("--currency", "euro", "ISO 4217")],
)
def test_merchant_add_rejects_invalid_option(
    database_url: str, option: str, value: str, message: str
) -> None:
    result = loyalty(
        database_url,
        "merchant",
        "add",
        "--shop-id",
        "1",
        "--secret",
        "s",
        "--name",
        "n",
        option,
        value,
    )

    assert result.returncode == 1
    assert message in result.stderr


async def test_balance_prints_ledger(database_url: str, pool: asyncpg.Pool, unique: str) -> None:
    from services.merchant_settings.rules_source import StoredSettingsRulesSource
    from services.rewarding.processor import BatchProcessor
    from services.rewarding.records import InboundRecord
    from services.store.merchants import Merchant, add_merchant
    from tests.unit.factories import order_event

    merchant_id = f"cli-{unique}"
    await add_merchant(
        pool, Merchant(merchant_id, "eu1", int(unique[:6], 16) + 300, "s", "Shop", "EUR")
    )

    async def no_dead_letters(letters: object) -> None:
        raise AssertionError(letters)

    processor = BatchProcessor(pool, f"g-{unique}", StoredSettingsRulesSource(), no_dead_letters)
    event = order_event("paid", total="19.95", merchant_id=merchant_id, customer_key="77")
    await processor.process(
        [InboundRecord(f"t-{unique}", 0, 0, None, event.model_dump_json().encode())]
    )

    table = loyalty(database_url, "balance", merchant_id, "77")
    as_json = loyalty(database_url, "balance", merchant_id, "77", "--json")
    missing = loyalty(database_url, "balance", merchant_id, "78")

    assert table.returncode == 0, table.stderr
    assert "balance 19" in table.stdout
    assert "+19" in table.stdout
    assert json.loads(as_json.stdout)["balance"] == 19
    assert missing.returncode == 1
    assert "has no points history" in missing.stderr


def test_unreachable_database_names_what_to_start(tmp_path: Path) -> None:
    result = loyalty("postgresql://postgres@127.0.0.1:1/none", "balance", "m", "c")

    assert result.returncode == 1
    assert "is not reachable" in result.stderr
    assert "pg_ctlcluster" in result.stderr
