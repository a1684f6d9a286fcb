"""Each rejected webhook gets its status code and publishes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from services.common.settings import CommonSettings
from services.devstack.lightspeed_fixtures import (
    Shop,
    order_resource,
    webhook_body,
    webhook_headers,
)
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

UPDATED = datetime(2026, 11, 3, 14, 5, 11, tzinfo=timezone(timedelta(hours=1)))


def paid_body(order_id: int = 1) -> bytes:
    return webhook_body(
        order_resource(
            order_id=order_id,
            payment_status="paid",
            updated_at=UPDATED,
            price_incl=Decimal("42.50"),
            customer_id=501,
        )
    )


async def only_sentinel_published(
    client: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> bool:
    """Post a good webhook and return whether it is the only record on the topic."""
    body = paid_body(order_id=999)
    response = await client.post(
        "/webhooks/lightspeed", content=body, headers=webhook_headers(shop, body, "orders/paid")
    )
    assert response.status_code == 200, response.text
    records = await read_topic(
        settings.kafka_bootstrap_servers,
        settings.orders_topic,
        until=lambda found: any(b'"order_id":"999"' in (r.value or b"") for r in found),
        timeout=5,
    )
    assert len(records) >= 1
    return len(records) == 1 and b'"order_id":"999"' in (records[0].value or b"")


async def test_missing_signature_is_401(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> None:
    body = paid_body()
    headers = webhook_headers(shop, body)
    del headers["X-Signature"]

    response = await ingest.post("/webhooks/lightspeed", content=body, headers=headers)

    assert response.status_code == 401
    assert "X-Signature" in response.json()["error"]
    assert await only_sentinel_published(ingest, shop, settings)


async def test_wrong_signature_is_401(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> None:
    body = paid_body()
    headers = webhook_headers(Shop(shop.shop_id, shop.cluster_id, "not-the-secret"), body)

    response = await ingest.post("/webhooks/lightspeed", content=body, headers=headers)

    assert response.status_code == 401
    assert await only_sentinel_published(ingest, shop, settings)


async def test_reserialized_body_fails_signature(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> None:
    body = paid_body()
    headers = webhook_headers(shop, body)
    reformatted = body.replace(b'": ', b'":')

    response = await ingest.post("/webhooks/lightspeed", content=reformatted, headers=headers)

    assert response.status_code == 401
    assert await only_sentinel_published(ingest, shop, settings)


async def test_unknown_shop_is_404(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> None:
    stranger = Shop(shop_id=shop.shop_id + 1, cluster_id="eu1", secret="x")
    body = paid_body()

    response = await ingest.post(
        "/webhooks/lightspeed", content=body, headers=webhook_headers(stranger, body)
    )

    assert response.status_code == 404
    assert str(stranger.shop_id) in response.json()["error"]
    assert await only_sentinel_published(ingest, shop, settings)


async def test_same_shop_id_on_other_cluster_is_404(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> None:
    other_cluster = Shop(shop_id=shop.shop_id, cluster_id="us1", secret=shop.secret)
    body = paid_body()

    response = await ingest.post(
        "/webhooks/lightspeed", content=body, headers=webhook_headers(other_cluster, body)
    )

    assert response.status_code == 404
    assert await only_sentinel_published(ingest, shop, settings)


async def test_malformed_json_is_400(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> None:
    body = b'{"order": {"id": 1,'

    response = await ingest.post(
        "/webhooks/lightspeed", content=body, headers=webhook_headers(shop, body)
    )

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    assert await only_sentinel_published(ingest, shop, settings)


@pytest.mark.parametrize("field", ["paymentStatus", "updatedAt", "priceIncl", "id", "number"])
async def test_missing_field_is_400_naming_it(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings, field: str
) -> None:
    resource = order_resource(
        order_id=5,
        payment_status="paid",
        updated_at=UPDATED,
        price_incl=Decimal("10"),
        customer_id=1,
    )
    del resource[field]
    body = webhook_body(resource)

    response = await ingest.post(
        "/webhooks/lightspeed", content=body, headers=webhook_headers(shop, body)
    )

    assert response.status_code == 400
    assert f"order.{field}" in response.json()["error"]
    assert await only_sentinel_published(ingest, shop, settings)


@pytest.mark.parametrize(
    ("field", "value", "fragments"),
    [
        ("paymentStatus", "refunded", ["order.paymentStatus", "'paid'"]),
        ("priceIncl", Decimal("-50"), ["order.priceIncl", "greater than or equal to 0"]),
        ("updatedAt", "2026-11-03T14:05:11", ["order.updatedAt", "timezone"]),
    ],
)
async def test_invalid_field_is_400_naming_it(
    ingest: httpx.AsyncClient,
    shop: Shop,
    settings: CommonSettings,
    field: str,
    value: object,
    fragments: list[str],
) -> None:
    resource = order_resource(
        order_id=5,
        payment_status="paid",
        updated_at=UPDATED,
        price_incl=Decimal("10"),
        customer_id=1,
    )
    resource[field] = value
    body = webhook_body(resource)

    response = await ingest.post(
        "/webhooks/lightspeed", content=body, headers=webhook_headers(shop, body)
    )

    assert response.status_code == 400
    error = response.json()["error"]
    for fragment in fragments:
        assert fragment in error
    assert await only_sentinel_published(ingest, shop, settings)


async def test_body_over_one_mebibyte_is_413(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> None:
    resource = order_resource(
        order_id=5,
        payment_status="paid",
        updated_at=UPDATED,
        price_incl=Decimal("10"),
        customer_id=1,
    )
    resource["comment"] = "x" * (1024 * 1024)
    body = webhook_body(resource)

    response = await ingest.post(
        "/webhooks/lightspeed", content=body, headers=webhook_headers(shop, body)
    )

    assert response.status_code == 413
    assert await only_sentinel_published(ingest, shop, settings)


async def test_chunked_body_over_limit_is_413(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> None:
    body = paid_body() + b" " * (1024 * 1024)
    headers = webhook_headers(shop, body)

    async def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = await ingest.post("/webhooks/lightspeed", content=chunks(), headers=headers)

    assert response.status_code == 413
    assert await only_sentinel_published(ingest, shop, settings)


@pytest.mark.parametrize("event", ["products/updated", "customers/created", "orders/deleted"])
async def test_unhandled_event_is_202_and_ignored(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings, event: str
) -> None:
    body = paid_body()

    response = await ingest.post(
        "/webhooks/lightspeed", content=body, headers=webhook_headers(shop, body, event)
    )

    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert await only_sentinel_published(ingest, shop, settings)


async def test_missing_event_header_is_400(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> None:
    body = paid_body()
    headers = webhook_headers(shop, body)
    del headers["X-Event"]

    response = await ingest.post("/webhooks/lightspeed", content=body, headers=headers)

    assert response.status_code == 400
    assert "X-Event" in response.json()["error"]
    assert await only_sentinel_published(ingest, shop, settings)


async def test_wrong_method_error_has_same_shape(ingest: httpx.AsyncClient) -> None:
    response = await ingest.get("/webhooks/lightspeed")

    assert response.status_code == 405
    assert "GET /webhooks/lightspeed" in response.json()["error"]


async def test_missing_shop_headers_is_400(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> None:
    body = paid_body()
    headers = webhook_headers(shop, body)
    del headers["X-Shop-Id"]

    response = await ingest.post("/webhooks/lightspeed", content=body, headers=headers)

    assert response.status_code == 400
    assert "X-Shop-Id" in response.json()["error"]
    assert await only_sentinel_published(ingest, shop, settings)


async def test_broker_unreachable_is_503(settings: CommonSettings, shop: Shop) -> None:
    import asyncio

    import uvicorn

    from services.common.settings import IngestSettings
    from services.devstack.ports import free_port
    from services.ingest.app import create_app

    dead_broker = f"127.0.0.1:{free_port()}"
    ingest_settings = IngestSettings(
        **{**settings.model_dump(), "kafka_bootstrap_servers": dead_broker},
        http_port=free_port(),
        publish_timeout_seconds=2,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(ingest_settings),
            host="127.0.0.1",
            port=ingest_settings.http_port,
            log_config=None,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{ingest_settings.http_port}"
        ) as client:
            body = paid_body()
            response = await client.post(
                "/webhooks/lightspeed",
                content=body,
                headers=webhook_headers(shop, body, "orders/paid"),
            )
            ready = await client.get("/readyz")
            alive = await client.get("/healthz")
    finally:
        server.should_exit = True
        await task

    assert response.status_code == 503
    assert "retry" in response.json()["error"]
    assert ready.status_code == 503
    assert ready.json() == {"database": True, "broker": False}
    assert alive.status_code == 200
    records = await read_topic(settings.kafka_bootstrap_servers, settings.orders_topic, timeout=1.5)
    assert records == []


async def test_readyz_true_with_broker_and_database(ingest: httpx.AsyncClient) -> None:
    response = await ingest.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"database": True, "broker": True}


async def test_database_unreachable_is_503_then_recovers(
    settings: CommonSettings, shop: Shop, database_url: str
) -> None:
    import asyncio
    from urllib.parse import urlsplit

    import uvicorn

    from services.common.settings import IngestSettings
    from services.devstack.database import with_database
    from services.devstack.ports import free_port
    from services.devstack.proxy import TcpProxy
    from services.ingest.app import create_app

    target = urlsplit(database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.accept()
    proxied_url = database_url.replace(
        f"{target.hostname}:{target.port or 5432}", f"127.0.0.1:{proxy.port}"
    )
    if proxied_url == database_url:
        proxied_url = with_database(
            f"postgresql://postgres@127.0.0.1:{proxy.port}", target.path.lstrip("/")
        )
    ingest_settings = IngestSettings(
        **{**settings.model_dump(), "database_url": proxied_url}, http_port=free_port()
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(ingest_settings),
            host="127.0.0.1",
            port=ingest_settings.http_port,
            log_config=None,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    body = paid_body(order_id=7)
    headers = webhook_headers(shop, body, "orders/paid")
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{ingest_settings.http_port}"
        ) as client:
            before = await client.post("/webhooks/lightspeed", content=body, headers=headers)
            await proxy.reject()
            during = await client.post("/webhooks/lightspeed", content=body, headers=headers)
            await proxy.accept()
            after = [await client.post("/webhooks/lightspeed", content=body, headers=headers)]
            while after[-1].status_code != 200 and len(after) < 10:
                await asyncio.sleep(0.2)
                after.append(
                    await client.post("/webhooks/lightspeed", content=body, headers=headers)
                )
    finally:
        server.should_exit = True
        await task
        await proxy.close()

    assert before.status_code == 200
    assert during.status_code == 503
    assert "database is unavailable" in during.json()["error"]
    assert during.headers["retry-after"] == "5"
    assert after[-1].status_code == 200
