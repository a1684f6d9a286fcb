"""Builders of domain events for unit tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.orders import Amounts, Customer, OrderStatusChanged, PaymentStatus
from schemas.refunds import OrderRefunded

T0 = datetime(2026, 11, 3, 13, 0, tzinfo=UTC)


def order_event(
    status: str = "paid",
    *,
    minutes: int = 0,
    total: str = "42.50",
    order_id: str = "1001",
    customer_key: str | None = "501",
    merchant_id: str = "ls-eu1-1",
    shipping: str = "4.95",
) -> OrderStatusChanged:
    occurred = T0 + timedelta(minutes=minutes)
    return OrderStatusChanged(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{order_id}/{status}/{minutes}/{total}"),
        merchant_id=merchant_id,
        source="test",
        order_id=order_id,
        order_number=f"ORD{order_id}",
        customer=Customer(key=customer_key, platform_id=customer_key, email="a@example.com"),
        payment_status=PaymentStatus(status),
        order_status="processing",
        amounts=Amounts(
            currency="EUR",
            total_incl=Decimal(total),
            total_excl=(Decimal(total) / Decimal("1.21")).quantize(Decimal("0.01")),
            shipping_incl=Decimal(shipping),
            shipping_excl=(Decimal(shipping) / Decimal("1.21")).quantize(Decimal("0.01")),
        ),
        occurred_at=occurred,
        received_at=occurred,
    )


def refund_event(
    total: str,
    *,
    invoice_id: str = "9001",
    minutes: int = 30,
    order_id: str = "1001",
    merchant_id: str = "ls-eu1-1",
    shipping: str = "0",
) -> OrderRefunded:
    occurred = T0 + timedelta(minutes=minutes)
    return OrderRefunded(
        event_id=uuid.uuid5(
            uuid.NAMESPACE_URL, f"{order_id}/refund/{invoice_id}/{minutes}/{total}"
        ),
        merchant_id=merchant_id,
        source="test",
        order_id=order_id,
        invoice_id=invoice_id,
        invoice_number=f"CN{invoice_id}",
        amounts=Amounts(
            currency="EUR",
            total_incl=Decimal(total),
            total_excl=(Decimal(total) / Decimal("1.21")).quantize(Decimal("0.01")),
            shipping_incl=Decimal(shipping),
            shipping_excl=(Decimal(shipping) / Decimal("1.21")).quantize(Decimal("0.01")),
        ),
        occurred_at=occurred,
        received_at=occurred,
    )
