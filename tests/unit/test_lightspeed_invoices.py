import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from schemas.order_events import parse_order_event
from services.devstack.lightspeed_fixtures import invoice_resource, webhook_body
from services.ingest.lightspeed import InvalidPayloadError, load_json
from services.ingest.lightspeed_invoices import normalize_credit_note, parse_invoice
from tests.unit.factories import order_event

CET = timezone(timedelta(hours=1))
UPDATED = datetime(2026, 11, 4, 10, 0, tzinfo=CET)
RECEIVED = datetime(2026, 11, 4, 9, 0, 1, tzinfo=UTC)


def credit_note(**overrides: object):  # type: ignore[no-untyped-def]
    resource = invoice_resource(
        invoice_id=31, order_id=7, updated_at=UPDATED, price_incl=Decimal("12.10")
    )
    resource.update(overrides)
    return parse_invoice(load_json(webhook_body(resource, "invoice")))


def normalize(invoice):  # type: ignore[no-untyped-def]
    return normalize_credit_note(
        invoice, merchant_id="ls-eu1-1", base_currency="EUR", received_at=RECEIVED
    )


def test_credit_note_becomes_refund_of_its_order() -> None:
    event = normalize(credit_note())

    assert event.event_type == "OrderRefunded"
    assert event.order_id == "7"
    assert event.invoice_id == "31"
    assert event.invoice_number == "CN00031"
    assert event.amounts.total_incl == Decimal("12.1")
    assert event.amounts.total_excl == Decimal("10")
    assert event.stream_id == "order:ls-eu1-1:7"
    assert event.partition_key == b"ls-eu1-1:7"


def test_negative_amounts_refund_the_same() -> None:
    positive = normalize(credit_note())
    negative = normalize(credit_note(priceIncl=-12.10, priceExcl=-10.00))

    assert negative.amounts == positive.amounts
    assert negative.event_id == positive.event_id


def test_event_id_changes_with_invoice_version() -> None:
    first = normalize(credit_note())
    later = normalize(credit_note(updatedAt="2026-11-04T11:00:00+01:00"))

    assert first.event_id != later.event_id


def test_missing_order_link_names_the_field() -> None:
    with pytest.raises(InvalidPayloadError, match=r"invoice\.order"):
        credit_note(order=None)


def test_order_root_key_rejected() -> None:
    with pytest.raises(InvalidPayloadError, match='root key "invoice"'):
        parse_invoice({"order": {}})


def test_plain_invoice_is_not_normalized() -> None:
    with pytest.raises(ValueError, match="not a credit note"):
        normalize(credit_note(isCreditNote=False))


def test_record_without_event_type_is_status_change() -> None:
    value = order_event("paid").model_dump(mode="json")
    del value["event_type"]

    assert parse_order_event(json.dumps(value)).event_type == "OrderStatusChanged"


def test_refund_record_parses_as_refund() -> None:
    event = normalize(credit_note())

    assert parse_order_event(event.model_dump_json()) == event
