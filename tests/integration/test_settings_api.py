"""``GET``/``PUT /merchants/{id}/settings`` and ``loyalty settings show|set``."""

from __future__ import annotations

import json

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.devstack.lightspeed_fixtures import Shop
from tests.conftest import merchant_id_of

pytestmark = pytest.mark.integration


def url(shop: Shop) -> str:
    return f"/merchants/{merchant_id_of(shop)}/settings"


async def test_get_returns_defaults(ingest: httpx.AsyncClient, shop: Shop) -> None:
    response = await ingest.get(url(shop))

    assert response.status_code == 200
    body = response.json()
    assert body["merchant_id"] == merchant_id_of(shop)
    assert body["version"] == 1
    assert body["reward_statuses"] == ["paid"]
    assert body["cancel_statuses"] == ["cancelled"]
    assert body["points_per_unit"] == "1"
    assert body["negative_balance_policy"] == "allow"


async def test_put_changes_named_settings_only(
    ingest: httpx.AsyncClient, shop: Shop, pool: asyncpg.Pool
) -> None:
    response = await ingest.put(
        url(shop),
        json={"points_per_unit": "2.5", "cancel_statuses": []},
        headers={"X-Actor": "ops@example.com"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 2
    assert body["points_per_unit"] == "2.5"
    assert body["cancel_statuses"] == []
    assert body["reward_statuses"] == ["paid"]
    assert (await ingest.get(url(shop))).json() == body
    data = await pool.fetchval(
        "SELECT data FROM events WHERE stream_id = $1", f"settings:{merchant_id_of(shop)}"
    )
    assert data["actor"] == "ops@example.com"
    assert data["changes"] == {"points_per_unit": "2.5", "cancel_statuses": []}


async def test_put_names_every_invalid_field(ingest: httpx.AsyncClient, shop: Shop) -> None:
    response = await ingest.put(
        url(shop),
        json={"reward_statuses": ["paid", "refunded"], "negative_balance_policy": "never"},
    )

    assert response.status_code == 422
    problems = {p["field"]: p["message"] for p in response.json()["problems"]}
    assert problems["reward_statuses"] == (
        "unknown payment status 'refunded'; allowed values: "
        "not_paid, partially_paid, paid, cancelled"
    )
    assert "allowed values: allow, clamp" in problems["negative_balance_policy"]
    assert (await ingest.get(url(shop))).json()["version"] == 1


async def test_put_rejects_overlapping_statuses(ingest: httpx.AsyncClient, shop: Shop) -> None:
    response = await ingest.put(url(shop), json={"cancel_statuses": ["paid", "cancelled"]})

    assert response.status_code == 422
    assert "must not overlap; both contain paid" in response.json()["error"]


async def test_put_rejects_unknown_setting(ingest: httpx.AsyncClient, shop: Shop) -> None:
    response = await ingest.put(url(shop), json={"points_per_euro": 3})

    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "points_per_euro"


async def test_put_with_stale_version_is_409(ingest: httpx.AsyncClient, shop: Shop) -> None:
    first = await ingest.put(url(shop), json={"version": 1, "earning_enabled": False})
    second = await ingest.put(url(shop), json={"version": 1, "earning_enabled": True})

    assert first.status_code == 200
    assert second.status_code == 409
    assert "at version 2, not 1" in second.json()["error"]


async def test_put_empty_or_invalid_body_is_400(ingest: httpx.AsyncClient, shop: Shop) -> None:
    empty = await ingest.put(url(shop), json={})
    version_only = await ingest.put(url(shop), json={"version": 1})
    broken = await ingest.put(url(shop), content=b"{not json")

    assert empty.status_code == 400
    assert version_only.status_code == 400
    assert broken.status_code == 400
    assert (await ingest.get(url(shop))).json()["version"] == 1


async def test_history_lists_changes_with_actor(ingest: httpx.AsyncClient, shop: Shop) -> None:
    await ingest.put(url(shop), json={"points_per_unit": "3"}, headers={"X-Actor": "ana"})
    await ingest.put(url(shop), json={"earning_enabled": False})

    response = await ingest.get(f"{url(shop)}/history")

    assert response.status_code == 200
    changes = response.json()["changes"]
    assert [c["version"] for c in changes] == [2, 3]
    assert [c["actor"] for c in changes] == ["ana", "http-api"]
    assert changes[0]["changes"] == {"points_per_unit": "3"}
    assert changes[1]["changes"] == {"earning_enabled": False}
    assert changes[0]["changed_at"] <= changes[1]["changed_at"]


async def test_unknown_merchant_is_404(ingest: httpx.AsyncClient) -> None:
    read = await ingest.get("/merchants/nobody/settings")
    write = await ingest.put("/merchants/nobody/settings", json={"earning_enabled": False})

    assert read.status_code == 404
    assert write.status_code == 404
    assert "nobody" in write.json()["error"]


def test_cli_set_then_show(shop: Shop, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_DATABASE_URL", database_url)
    runner = CliRunner()
    merchant_id = merchant_id_of(shop)

    changed = runner.invoke(
        app,
        [
            "settings",
            "set",
            merchant_id,
            "reward_statuses=paid,partially_paid",
            "negative_balance_policy=clamp",
            "--actor",
            "cli-test",
        ],
    )
    shown = runner.invoke(app, ["settings", "show", merchant_id, "--json"])

    assert changed.exit_code == 0, changed.output
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.output)
    assert sorted(body["reward_statuses"]) == ["paid", "partially_paid"]
    assert body["negative_balance_policy"] == "clamp"
    assert body["version"] == 2
    history = runner.invoke(app, ["settings", "history", merchant_id, "--json"])
    assert history.exit_code == 0, history.output
    [change] = json.loads(history.output)["changes"]
    assert change["actor"] == "cli-test"
    assert change["changes"]["negative_balance_policy"] == "clamp"


def test_cli_set_invalid_names_field(
    shop: Shop, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOYALTY_DATABASE_URL", database_url)

    result = CliRunner().invoke(
        app, ["settings", "set", merchant_id_of(shop), "amount_basis=gross"]
    )

    assert result.exit_code == 1
    assert "amount_basis" in result.output
    assert "including_tax, excluding_tax" in result.output
