"""Invoice webhooks: credit notes are published as OrderRefunded, other invoices ignored."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from services.common.settings import CommonSettings
from services.devstack.lightspeed_fixtures import (
    Shop,
    invoice_resource,
    webhook_body,
    webhook_headers,
)
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

UPDATED = datetime(2026, 11, 4, 10, 0, tzinfo=timezone(timedelta(hours=1)))


def invoice_body(invoice_id: int, *, credit_note: bool = True) -> bytes:
    resource = invoice_resource(
        invoice_id=invoice_id,
        order_id=7,
        updated_at=UPDATED,
        price_incl=Decimal("12.10"),
        is_credit_note=credit_note,
    )
    return webhook_body(resource, "invoice")


async def post(client: httpx.AsyncClient, shop: Shop, body: bytes, event: str) -> httpx.Response:
    return await client.post(
        "/webhooks/lightspeed", content=body, headers=webhook_headers(shop, body, event)
    )


async def test_credit_note_published_as_refund(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> None:
    response = await post(ingest, shop, invoice_body(31), "invoices/created")

    assert response.status_code == 200, response.text
    records = await read_topic(
        settings.kafka_bootstrap_servers, settings.orders_topic, until_count=1, timeout=5
    )
    assert len(records) == 1
    value = json.loads(records[0].value)
    assert value["event_type"] == "OrderRefunded"
    assert value["event_id"] == response.json()["event_id"]
    assert value["order_id"] == "7"
    assert value["amounts"]["total_incl"] == "12.1"
    assert records[0].key == f"ls-eu1-{shop.shop_id}:7".encode()
    assert ("event-type", b"OrderRefunded") in records[0].headers


async def test_plain_invoice_is_202_and_not_published(
    ingest: httpx.AsyncClient, shop: Shop, settings: CommonSettings
) -> None:
    response = await post(ingest, shop, invoice_body(32, credit_note=False), "invoices/created")

    assert response.status_code == 202
    assert response.json()["reason"] == "invoice INV00032 is not a credit note"
    records = await read_topic(settings.kafka_bootstrap_servers, settings.orders_topic, timeout=1)
    assert records == []


async def test_invoice_without_amount_is_400_naming_it(
    ingest: httpx.AsyncClient, shop: Shop
) -> None:
    resource = invoice_resource(
        invoice_id=33, order_id=7, updated_at=UPDATED, price_incl=Decimal("1.00")
    )
    del resource["priceExcl"]

    response = await post(ingest, shop, webhook_body(resource, "invoice"), "invoices/updated")

    assert response.status_code == 400
    assert "invoice.priceExcl" in response.json()["error"]


async def test_deleted_invoice_is_202(ingest: httpx.AsyncClient, shop: Shop) -> None:
    response = await post(ingest, shop, invoice_body(34), "invoices/deleted")

    assert response.status_code == 202
