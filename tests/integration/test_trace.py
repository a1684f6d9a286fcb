"""One webhook yields one connected trace from the HTTP request to the event store write."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from services.common.settings import CommonSettings
from services.devstack.lightspeed_fixtures import (
    Shop,
    order_resource,
    webhook_body,
    webhook_headers,
)
from services.rewarding.consumer import RewardingService
from tests.conftest import merchant_id_of
from tests.support.kafka import wait_until
from tests.support.telemetry import CapturedTelemetry

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 3, 14, 5, 11, tzinfo=timezone(timedelta(hours=1)))


def one(spans: list[ReadableSpan], name: str, kind: SpanKind) -> ReadableSpan:
    found = [span for span in spans if span.name == name and span.kind == kind]
    assert len(found) == 1, f"expected one {kind.name} span {name!r}, got {found}"
    return found[0]


def ancestor_ids(span: ReadableSpan, spans: list[ReadableSpan]) -> list[int]:
    """Return the span ids from ``span``'s parent up to the root, within ``spans``."""
    by_id = {s.context.span_id: s for s in spans}
    ids = []
    parent = span.parent
    while parent is not None:
        ids.append(parent.span_id)
        parent = by_id[parent.span_id].parent if parent.span_id in by_id else None
    return ids


async def test_webhook_trace_reaches_event_store(
    telemetry: CapturedTelemetry,
    settings: CommonSettings,
    ingest: httpx.AsyncClient,
    rewarding: RewardingService,
    shop: Shop,
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="services.rewarding.event_log")
    resource = order_resource(
        order_id=7001,
        payment_status="paid",
        updated_at=T0,
        price_incl=Decimal("25.00"),
        customer_id=701,
    )
    body = webhook_body(resource)

    response = await ingest.post(
        "/webhooks/lightspeed", content=body, headers=webhook_headers(shop, body, "orders/paid")
    )
    assert response.status_code == 200, response.text
    event_id = response.json()["event_id"]
    published = [
        span
        for span in telemetry.finished_spans()
        if (span.attributes or {}).get("messaging.message.id") == event_id
    ]
    assert len(published) == 1
    trace_id = published[0].context.trace_id

    def in_trace() -> list[ReadableSpan]:
        return [s for s in telemetry.finished_spans() if s.context.trace_id == trace_id]

    async def record_processed() -> bool:
        names = {span.name for span in in_trace()}
        return {"INSERT events", f"{settings.orders_topic} process"} <= names

    await wait_until(record_processed, timeout=30)
    spans = in_trace()
    orders_topic = settings.orders_topic

    server = one(spans, "POST /webhooks/lightspeed", SpanKind.SERVER)
    assert server.parent is None

    publish = one(spans, f"{orders_topic} publish", SpanKind.PRODUCER)
    assert server.context.span_id in ancestor_ids(publish, spans)
    assert publish.attributes is not None
    assert publish.attributes["messaging.message.id"] == event_id

    process = one(spans, f"{orders_topic} process", SpanKind.CONSUMER)
    assert process.parent is not None
    assert process.parent.span_id == publish.context.span_id

    write = one(spans, "INSERT events", SpanKind.CLIENT)
    assert write.parent is not None
    assert write.parent.span_id == process.context.span_id

    batches = [
        span
        for span in telemetry.finished_spans()
        if span.kind == SpanKind.CONSUMER
        and span.parent is None
        and any(link.context.span_id == publish.context.span_id for link in span.links)
    ]
    assert len(batches) == 1
    batch = batches[0]
    assert batch.context.trace_id != trace_id
    assert [link.context.span_id for link in process.links] == [batch.context.span_id]

    metadata = await pool.fetchval(
        "SELECT metadata FROM events WHERE stream_id = $1 ORDER BY stream_version LIMIT 1",
        f"order:{merchant_id_of(shop)}:7001",
    )
    trace_hex = format(trace_id, "032x")
    span_hex = format(process.context.span_id, "016x")
    assert metadata["traceparent"].split("-")[1:3] == [trace_hex, span_hex]

    handled = [r for r in caplog.records if getattr(r, "event_id", None) == event_id]
    assert len(handled) == 1
    assert getattr(handled[0], "trace_id", None) == trace_hex
    assert getattr(handled[0], "result", None) == "applied"
