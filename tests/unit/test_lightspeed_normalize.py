from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.devstack.lightspeed_fixtures import order_resource, webhook_body
from services.ingest.lightspeed import (
    InvalidPayloadError,
    customer_key,
    load_json,
    normalize_order,
    parse_order,
)

CET = timezone(timedelta(hours=1))
UPDATED = datetime(2026, 11, 3, 14, 5, 11, tzinfo=CET)
RECEIVED = datetime(2026, 11, 3, 13, 5, 12, tzinfo=UTC)


def normalize(resource: dict[str, object]):  # type: ignore[no-untyped-def]
    order = parse_order(load_json(webhook_body(resource)))
    return normalize_order(order, merchant_id="ls-eu1-1", base_currency="EUR", received_at=RECEIVED)


def test_registered_customer_keyed_by_platform_id() -> None:
    event = normalize(
        order_resource(
            order_id=7,
            payment_status="paid",
            updated_at=UPDATED,
            price_incl=Decimal("42.50"),
            customer_id=501,
        )
    )

    assert event.customer.key == "501"
    assert event.customer.platform_id == "501"
    assert event.amounts.total_incl == Decimal("42.5")
    assert event.amounts.currency == "EUR"
    assert event.occurred_at == UPDATED
    assert event.order_number == "ORD00007"


def test_guest_keyed_by_normalized_email() -> None:
    event = normalize(
        order_resource(
            order_id=8,
            payment_status="paid",
            updated_at=UPDATED,
            price_incl=Decimal("10"),
            customer_id=None,
            email="  Dana@Example.COM ",
        )
    )

    assert event.customer.key == "dana@example.com"
    assert event.customer.platform_id is None


def test_customer_key_none_without_id_or_email() -> None:
    assert customer_key(None, None) is None
    assert customer_key(None, "   ") is None
    assert customer_key("9", "x@example.com") == "9"


def test_same_webhook_gives_same_event_id() -> None:
    resource = order_resource(
        order_id=9,
        payment_status="paid",
        updated_at=UPDATED,
        price_incl=Decimal("19.95"),
        customer_id=1,
    )

    first = normalize(resource)
    second = normalize_order(
        parse_order(load_json(webhook_body(resource))),
        merchant_id="ls-eu1-1",
        base_currency="EUR",
        received_at=RECEIVED + timedelta(hours=1),
    )

    assert first.event_id == second.event_id


def test_status_change_gives_new_event_id() -> None:
    paid = order_resource(
        order_id=9,
        payment_status="paid",
        updated_at=UPDATED,
        price_incl=Decimal("19.95"),
        customer_id=1,
    )
    cancelled = {
        **paid,
        "paymentStatus": "cancelled",
        "updatedAt": (UPDATED + timedelta(minutes=1)).isoformat(),
    }

    assert normalize(paid).event_id != normalize(cancelled).event_id


def test_decimal_precision_kept_from_json_numbers() -> None:
    order = parse_order(
        load_json(
            b'{"order": {"id": 1, "number": "A1", "updatedAt": "2026-11-03T14:05:11+01:00",'
            b' "paymentStatus": "paid", "status": "completed", "priceIncl": 0.1,'
            b' "priceExcl": 0.30000000000000004}}'
        )
    )

    assert order.price_incl == Decimal("0.1")
    assert order.price_excl == Decimal("0.30000000000000004")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"invoice": {}}', 'root key "order"'),
        (b'{"order": {"id": 1}}', "order.number"),
        (
            b'{"order": {"id": 1, "number": "A", "updatedAt": "2026-11-03T14:05:11+01:00",'
            b' "paymentStatus": "refunded", "status": "x", "priceIncl": 1, "priceExcl": 1}}',
            "order.paymentStatus",
        ),
        (
            b'{"order": {"id": 1, "number": "A", "updatedAt": "2026-11-03T14:05:11",'
            b' "paymentStatus": "paid", "status": "x", "priceIncl": 1, "priceExcl": 1}}',
            "order.updatedAt",
        ),
    ],
)
def test_invalid_payload_names_the_problem(body: bytes, fragment: str) -> None:
    with pytest.raises(InvalidPayloadError, match=fragment.replace(".", r"\.")):
        parse_order(load_json(body))
