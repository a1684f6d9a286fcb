"""Backfill against a local imitation of the platform's REST API."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from services.backfill.bootstrap import backfill
from services.backfill.client import BackfillError
from services.backfill.runner import BackfillResult
from services.backfill.settings import BackfillSettings
from services.common.errors import LoyaltyError
from services.common.settings import CommonSettings
from services.devstack.lightspeed_api import FakeApiState, create_fake_api
from services.devstack.lightspeed_fixtures import (
    Shop,
    order_resource,
    webhook_body,
    webhook_headers,
)
from services.devstack.ports import free_port
from services.ingest.lightspeed import load_json, normalize_order, parse_order
from services.rewarding.consumer import RewardingService
from tests.conftest import merchant_id_of
from tests.support.kafka import read_topic, wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 3, 14, 5, 11, tzinfo=UTC)
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
STATUSES = ("paid", "cancelled", "not_paid", "partially_paid")


def shop_orders(count: int, first_id: int = 1) -> list[dict[str, Any]]:
    return [
        order_resource(
            order_id=order_id,
            payment_status=STATUSES[order_id % len(STATUSES)],
            updated_at=T0 + timedelta(minutes=order_id),
            price_incl=Decimal("10.00") + Decimal(order_id) / 100,
            customer_id=500 + order_id % 7 if order_id % 5 else None,
            email=f"buyer{order_id % 11}@example.com",
        )
        for order_id in range(first_id, first_id + count)
    ]


def webhook_event_id(shop: Shop, resource: dict[str, Any]) -> str:
    """Return the event id the ingest gives ``resource`` posted as a webhook body."""
    order = parse_order(load_json(webhook_body(resource)))
    event = normalize_order(
        order, merchant_id=merchant_id_of(shop), base_currency="EUR", received_at=T0
    )
    return str(event.event_id)


class Recorder:
    def __init__(self) -> None:
        self.totals: list[tuple[int | None, int]] = []
        self.pages: list[tuple[int, int]] = []

    def total(self, orders: int | None, already_done: int) -> None:
        self.totals.append((orders, already_done))

    def page_done(self, page: int, orders: int) -> None:
        self.pages.append((page, orders))


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeApiState, str]]:
    state = FakeApiState(orders=[], api_key="key-1", api_secret="secret-1")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_fake_api(state),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield state, f"http://127.0.0.1:{port}/en"
    server.should_exit = True
    await task


def backfill_settings(settings: CommonSettings, url: str, **overrides: Any) -> BackfillSettings:
    values: dict[str, Any] = {
        **settings.model_dump(),
        "lightspeed_api_url": url,
        "lightspeed_api_key": "key-1",
        "lightspeed_api_secret": "secret-1",
        "backfill_max_retries": 2,
        "backfill_retry_base_seconds": 0.05,
        **overrides,
    }
    return BackfillSettings(**values)


async def published(settings: CommonSettings, count: int) -> list[dict[str, Any]]:
    records = await read_topic(
        settings.kafka_bootstrap_servers, settings.orders_topic, until_count=count, timeout=20
    )
    return [json.loads(record.value) for record in records]


async def test_pages_publish_webhook_ids(
    api: tuple[FakeApiState, str], settings: CommonSettings, shop: Shop
) -> None:
    state, url = api
    state.orders = shop_orders(600)
    recorder = Recorder()

    result = await backfill(backfill_settings(settings, url), merchant_id_of(shop), SINCE, recorder)

    assert result.pages == 3
    assert result.published == 600
    assert state.pages_served() == [1, 2, 3]
    assert {r.limit for r in state.requests if r.page} == {250}
    assert recorder.totals == [(600, 0)]
    assert recorder.pages == [(1, 250), (2, 250), (3, 100)]
    events = await published(settings, 600)
    assert len(events) == 600
    expected = {webhook_event_id(shop, order) for order in state.orders}
    assert {event["event_id"] for event in events} == expected


async def test_since_filters_orders(
    api: tuple[FakeApiState, str], settings: CommonSettings, shop: Shop
) -> None:
    state, url = api
    state.orders = shop_orders(30)

    result = await backfill(
        backfill_settings(settings, url, backfill_page_size=10),
        merchant_id_of(shop),
        T0 + timedelta(minutes=21),
        Recorder(),
    )

    assert result.published == 10
    assert state.pages_served() == [1, 2]


async def test_throttled_request_waits_for_reset(
    api: tuple[FakeApiState, str], settings: CommonSettings, shop: Shop
) -> None:
    state, url = api
    state.orders = shop_orders(5)
    state.throttle_next = 2
    started = time.monotonic()

    result = await backfill(
        backfill_settings(settings, url), merchant_id_of(shop), SINCE, Recorder()
    )

    elapsed = time.monotonic() - started
    assert result.published == 5
    assert [r.status for r in state.requests] == [429, 429, 200, 200]
    # Each 429 carries X-RateLimit-Reset 1 for the exhausted window.
    assert elapsed >= 1.9
    retry_gaps = [b.at - a.at for a, b in zip(state.requests, state.requests[1:], strict=False)]
    assert min(retry_gaps[:2]) >= 0.95


async def test_requests_stay_under_shop_limit(
    api: tuple[FakeApiState, str], settings: CommonSettings, shop: Shop
) -> None:
    state, url = api
    state.orders = shop_orders(100)
    started = time.monotonic()

    result = await backfill(
        backfill_settings(settings, url, backfill_page_size=4),
        merchant_id_of(shop),
        SINCE,
        Recorder(),
    )

    elapsed = time.monotonic() - started
    assert result.pages == 26
    assert all(r.status == 200 for r in state.requests)
    # 27 requests (a count, then 26 pages) at the default 18 per second.
    assert elapsed >= 26 / 18
    for index in range(len(state.requests) - 20):
        assert state.requests[index + 20].at - state.requests[index].at >= 1.0


async def test_wrong_secret_is_rejected(
    api: tuple[FakeApiState, str], settings: CommonSettings, shop: Shop
) -> None:
    state, url = api
    state.orders = shop_orders(3)

    with pytest.raises(BackfillError, match=r"401.*API key and secret were rejected"):
        await backfill(
            backfill_settings(settings, url, lightspeed_api_secret="wrong"),
            merchant_id_of(shop),
            SINCE,
            Recorder(),
        )

    assert [r.status for r in state.requests] == [401]


async def test_resume_after_interruption(
    api: tuple[FakeApiState, str], settings: CommonSettings, shop: Shop, pool: asyncpg.Pool
) -> None:
    state, url = api
    state.orders = shop_orders(50)
    state.failing_pages = {3}
    config = backfill_settings(settings, url, backfill_page_size=10)

    with pytest.raises(BackfillError, match="still failing after 2 retries"):
        await backfill(config, merchant_id_of(shop), SINCE, Recorder())
    stopped = await pool.fetchrow(
        "SELECT last_page, orders_published, completed_at FROM backfill_checkpoints "
        "WHERE merchant_id = $1",
        merchant_id_of(shop),
    )
    assert tuple(stopped) == (2, 20, None)

    state.failing_pages = set()
    state.requests.clear()
    recorder = Recorder()
    result = await backfill(config, merchant_id_of(shop), SINCE, recorder)

    assert state.pages_served() == [3, 4, 5, 6]
    assert recorder.totals == [(50, 20)]
    assert result.published == 30
    assert result.checkpoint.orders_published == 50
    assert result.checkpoint.completed_at is not None
    events = await published(settings, 50)
    assert len({event["event_id"] for event in events}) == 50


async def test_completed_backfill_is_not_repeated(
    api: tuple[FakeApiState, str], settings: CommonSettings, shop: Shop
) -> None:
    state, url = api
    state.orders = shop_orders(5)
    config = backfill_settings(settings, url)
    await backfill(config, merchant_id_of(shop), SINCE, Recorder())
    state.requests.clear()

    again = await backfill(config, merchant_id_of(shop), SINCE, Recorder())
    restarted = await backfill(config, merchant_id_of(shop), SINCE, Recorder(), restart=True)

    assert again.already_complete
    assert restarted.published == 5
    assert state.pages_served() == [1]


async def test_invalid_order_is_dead_lettered(
    api: tuple[FakeApiState, str], settings: CommonSettings, shop: Shop
) -> None:
    state, url = api
    state.orders = shop_orders(3)
    state.orders[1]["paymentStatus"] = "mystery"

    result: BackfillResult = await backfill(
        backfill_settings(settings, url), merchant_id_of(shop), SINCE, Recorder()
    )

    assert result.published == 2
    assert result.rejected == 1
    letters = await read_topic(
        settings.kafka_bootstrap_servers, settings.orders_dlq_topic, until_count=1
    )
    assert len(letters) == 1
    headers = dict(letters[0].headers)
    assert headers["dlq-error-type"] == b"InvalidOrder"
    assert b"order.paymentStatus" in headers["dlq-reason"]
    assert json.loads(letters[0].value)["order"]["id"] == 2


async def test_unknown_merchant_is_named(
    api: tuple[FakeApiState, str], settings: CommonSettings
) -> None:
    _, url = api

    with pytest.raises(LoyaltyError, match="merchant 'ls-eu1-0' is not registered"):
        await backfill(backfill_settings(settings, url), "ls-eu1-0", SINCE, Recorder())


async def test_overlap_with_webhooks_changes_nothing(
    api: tuple[FakeApiState, str],
    settings: CommonSettings,
    shop: Shop,
    pool: asyncpg.Pool,
    ingest: httpx.AsyncClient,
    rewarding: RewardingService,
    unique: str,
) -> None:
    state, url = api
    state.orders = shop_orders(5)
    for resource in state.orders[:3]:
        body = webhook_body(resource)
        response = await ingest.post(
            "/webhooks/lightspeed", content=body, headers=webhook_headers(shop, body)
        )
        assert response.status_code == 200, response.text
    await consumed(pool, f"rewarding-{unique}", settings.orders_topic, 3)
    before = await stream_events(pool, merchant_id_of(shop))

    await backfill(backfill_settings(settings, url), merchant_id_of(shop), SINCE, Recorder())

    await consumed(pool, f"rewarding-{unique}", settings.orders_topic, 8)
    after = await stream_events(pool, merchant_id_of(shop))
    webhook_streams = {f"order:{merchant_id_of(shop)}:{order_id}" for order_id in (1, 2, 3)}
    assert {k: v for k, v in after.items() if k in webhook_streams} == before
    assert set(after) - set(before) == {
        f"order:{merchant_id_of(shop)}:4",
        f"order:{merchant_id_of(shop)}:5",
    }


async def consumed(pool: asyncpg.Pool, group_id: str, topic: str, records: int) -> None:
    async def done() -> bool:
        total = await pool.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
            "WHERE group_id = $1 AND topic = $2",
            group_id,
            topic,
        )
        return bool(total >= records)

    await wait_until(done, timeout=30)


async def stream_events(pool: asyncpg.Pool, merchant_id: str) -> dict[str, list[tuple[Any, ...]]]:
    rows = await pool.fetch(
        "SELECT stream_id, event_id, event_type FROM events WHERE merchant_id = $1 "
        "ORDER BY stream_id, stream_version",
        merchant_id,
    )
    streams: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        streams.setdefault(row["stream_id"], []).append((row["event_id"], row["event_type"]))
    return streams
