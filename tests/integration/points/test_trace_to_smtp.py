"""One webhook yields one trace from the HTTP request to the SMTP send, across four services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
import uvicorn
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from services.common.settings import CommonSettings, IngestSettings, RewardingSettings
from services.devstack.lightspeed_fixtures import Shop as PlatformShop
from services.devstack.lightspeed_fixtures import order_resource, webhook_body, webhook_headers
from services.devstack.ports import free_port
from services.ingest.app import create_app
from services.notifier.consumer import NotifierService
from services.rewarding.consumer import RewardingService
from tests.integration.points.conftest import RunningRelay, Shop
from tests.support.kafka import wait_until
from tests.support.smtp import SmtpServer
from tests.support.telemetry import CapturedTelemetry

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 3, 14, 5, 11, tzinfo=timezone(timedelta(hours=1)))


@pytest.fixture
async def own_ingest(
    settings: CommonSettings, own_database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    ingest_settings = IngestSettings(
        **{**settings.model_dump(), "database_url": own_database_url}, http_port=free_port()
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(ingest_settings),
            host="127.0.0.1",
            port=ingest_settings.http_port,
            log_config=None,
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{ingest_settings.http_port}", timeout=15
    ) as client:
        yield client
    server.should_exit = True
    await task


@pytest.fixture
async def own_rewarding(
    settings: CommonSettings, own_database_url: str, unique: str
) -> AsyncIterator[RewardingService]:
    service = RewardingService(
        RewardingSettings(
            **{**settings.model_dump(), "database_url": own_database_url},
            rewarding_group_id=f"rewarding-trace-{unique}",
        )
    )
    await service.app.start()
    yield service
    await service.app.stop()


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def one(spans: list[ReadableSpan], name: str, kind: SpanKind) -> ReadableSpan:
    found = [span for span in spans if span.name == name and span.kind == kind]
    assert len(found) == 1, f"expected one {kind.name} span {name!r}, got {len(found)}"
    return found[0]


async def test_webhook_trace_reaches_smtp_send(
    telemetry: CapturedTelemetry,
    settings: CommonSettings,
    merchant: Shop,
    own_ingest: httpx.AsyncClient,
    own_rewarding: RewardingService,
    relay: RunningRelay,
    notifier: NotifierService,
    smtp_server: SmtpServer,
) -> None:
    sent_before = telemetry.value("loyalty.emails.sent")
    shop_id = int(merchant.merchant_id.rsplit("-", 1)[1])
    platform_shop = PlatformShop(shop_id=shop_id, cluster_id="eu1", secret="secret")
    resource = order_resource(
        order_id=9301,
        payment_status="paid",
        updated_at=T0,
        price_incl=Decimal("12.00"),
        customer_id=931,
        email="trace@example.com",
    )
    body = webhook_body(resource)

    response = await own_ingest.post(
        "/webhooks/lightspeed",
        content=body,
        headers=webhook_headers(platform_shop, body, "orders/paid"),
    )
    assert response.status_code == 200, response.text
    event_id = response.json()["event_id"]
    (ingest_publish,) = [
        span
        for span in telemetry.finished_spans()
        if (span.attributes or {}).get("messaging.message.id") == event_id
    ]
    trace_id = ingest_publish.context.trace_id

    def in_trace() -> list[ReadableSpan]:
        return [s for s in telemetry.finished_spans() if s.context.trace_id == trace_id]

    async def email_sent() -> bool:
        names = {span.name for span in in_trace()}
        return "smtp send" in names and f"{settings.points_topic} process" in names

    await wait_until(email_sent, timeout=40)
    spans = in_trace()

    server = one(spans, "POST /webhooks/lightspeed", SpanKind.SERVER)
    orders_process = one(spans, f"{settings.orders_topic} process", SpanKind.CONSUMER)
    write = one(spans, "INSERT events", SpanKind.CLIENT)
    points_publish = one(spans, f"{settings.points_topic} publish", SpanKind.PRODUCER)
    points_process = one(spans, f"{settings.points_topic} process", SpanKind.CONSUMER)
    smtp_send = one(spans, "smtp send", SpanKind.CLIENT)

    assert server.parent is None
    assert parent_id(orders_process) == ingest_publish.context.span_id
    assert parent_id(write) == orders_process.context.span_id
    assert parent_id(points_publish) == orders_process.context.span_id
    assert parent_id(points_process) == points_publish.context.span_id
    assert parent_id(smtp_send) == orders_process.context.span_id
    assert all(
        "trace@example.com" not in str(value)
        for span in spans
        for value in (span.attributes or {}).values()
    )
    assert telemetry.value("loyalty.emails.sent") == sent_before + 1
    assert len(smtp_server.handler.messages()) == 1
