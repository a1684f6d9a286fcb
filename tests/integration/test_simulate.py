"""Re-deciding stored histories under proposed settings, without writing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.common.db import Connection, create_pool
from services.simulation.simulate import InvalidSettingsError, simulate
from services.store.rebuild import checksums
from tests.support.history import fresh_database, load_varied_history

pytestmark = pytest.mark.integration


@pytest.fixture
async def history_url() -> AsyncIterator[str]:
    async with fresh_database() as url:
        pool = await create_pool(url, max_size=2)
        try:
            await load_varied_history(pool, "m-a", 1)
            await load_varied_history(pool, "m-b", 2)
        finally:
            await pool.close()
        yield url


@pytest.fixture
async def connection(history_url: str) -> AsyncIterator[Connection]:
    pool = await create_pool(history_url, max_size=1)
    try:
        async with pool.acquire() as connection:
            yield connection
    finally:
        await pool.close()


async def store_state(connection: Connection) -> tuple[object, ...]:
    async with connection.transaction():
        sums = await checksums(connection)
    events = await connection.fetchrow("SELECT count(*), max(position) FROM events")
    offsets = await connection.fetch("SELECT * FROM consumer_offsets ORDER BY 1, 2, 3")
    return (sums, tuple(events), [tuple(row) for row in offsets])


def by_customer(report: object) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (c.merchant_id, c.customer_key): (c.recorded, c.simulated)
        for c in report.customers  # type: ignore[attr-defined]
    }


async def test_rate_change_doubles_early_awards(connection: Connection) -> None:
    # History was decided at rate 1, then rate 2: re-deciding at rate 2 doubles early awards.
    report = await simulate(connection, {"points_per_unit": "2"}, ["m-a"])

    customers = by_customer(report)
    assert customers[("m-a", "501")] == (42 + 19, 85 + 19)
    assert customers[("m-a", "502")] == (120, 240)
    assert customers[("m-a", "503")] == (39, 39)
    assert customers[("m-a", "dana@example.com")] == (60, 60)
    assert report.orders == 8
    assert report.recorded_total == 42 + 19 + 120 + 39 + 60
    assert report.simulated_total == 85 + 19 + 240 + 39 + 60


async def test_cancel_keeps_points(connection: Connection) -> None:
    report = await simulate(connection, {"cancel_statuses": []}, ["m-b"])

    customers = by_customer(report)
    # Order 3 (75.99) is no longer cancelled, and earns at the current rate 2.
    assert customers[("m-b", "503")] == (39, 151 + 39)
    assert all(key[0] == "m-b" for key in customers)


async def test_simulate_writes_nothing(connection: Connection) -> None:
    before = await store_state(connection)

    report = await simulate(connection, {"earning_enabled": False})

    after = await store_state(connection)
    assert after == before
    assert report.simulated_total == 0
    assert report.recorded_total > 0


async def test_invalid_settings_name_field(connection: Connection) -> None:
    with pytest.raises(InvalidSettingsError) as caught:
        await simulate(connection, {"points_per_unit": "-1", "amount_basis": "gross"})
    with pytest.raises(InvalidSettingsError, match="colour: unknown setting; allowed settings"):
        await simulate(connection, {"colour": "red"})

    message = str(caught.value)
    assert "points_per_unit: '-1' is not a valid rate" in message
    assert "amount_basis: unknown value 'gross'" in message
    assert "Value error" not in message


def test_cli_prints_differences(
    history_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "proposed.json"
    settings.write_text('{"points_per_unit": "3"}')
    monkeypatch.setenv("LOYALTY_DATABASE_URL", history_url)

    result = CliRunner().invoke(
        app, ["simulate", "--settings", str(settings), "--merchant", "m-a", "--json"]
    )

    assert result.exit_code == 0, result.output
    assert '"difference"' in result.output
    assert '"recorded": 120' in result.output
    assert '"simulated": 360' in result.output


def test_cli_rejects_bad_file(
    history_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "proposed.json"
    settings.write_text("[1, 2]")
    monkeypatch.setenv("LOYALTY_DATABASE_URL", history_url)

    result = CliRunner().invoke(app, ["simulate", "--settings", str(settings)])

    assert result.exit_code == 1
    assert "must hold a JSON object" in " ".join(result.output.split())
