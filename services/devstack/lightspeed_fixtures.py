"""Webhook bodies and headers shaped as Lightspeed eCom C-Series sends them.

Used by the demo, the tests, the chaos run and the benchmarks to imitate the
platform, which is out of reach from a development machine.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.ingest.signature import sign


@dataclass(frozen=True)
class Shop:
    """A shop as the platform identifies it in webhook headers."""

    shop_id: int
    cluster_id: str
    secret: str


def order_resource(
    *,
    order_id: int,
    payment_status: str,
    updated_at: datetime,
    price_incl: Decimal,
    customer_id: int | None = None,
    email: str | None = "customer@example.com",
    first_name: str = "Sam",
    last_name: str = "Jansen",
    language: str = "en",
    status: str | None = None,
    price_excl: Decimal | None = None,
    shipment_price_incl: Decimal = Decimal("4.95"),
    shipment_price_excl: Decimal = Decimal("4.09"),
) -> dict[str, Any]:
    """Return an order resource with the fields and shapes the platform uses."""
    if price_excl is None:
        price_excl = (price_incl / Decimal("1.21")).quantize(Decimal("0.01"))
    customer: Any = (
        {
            "resource": {
                "id": customer_id,
                "url": f"customers/{customer_id}",
                "link": f"https://api.webshopapp.com/en/customers/{customer_id}.json",
            }
        }
        if customer_id is not None
        else False
    )
    return {
        "id": order_id,
        "createdAt": updated_at.isoformat(),
        "updatedAt": updated_at.isoformat(),
        "number": f"ORD{order_id:05d}",
        "status": status or _order_status(payment_status),
        "paymentStatus": payment_status,
        "shipmentStatus": "not_shipped",
        "priceCost": price_excl / 2,
        "priceExcl": price_excl,
        "priceIncl": price_incl,
        "shipmentPriceExcl": shipment_price_excl,
        "shipmentPriceIncl": shipment_price_incl,
        "paymentPriceIncl": Decimal(0),
        "isDiscounted": False,
        "discountAmount": Decimal(0),
        "email": email,
        "firstname": first_name,
        "middlename": "",
        "lastname": last_name,
        "phone": "",
        "isNewCustomer": False,
        "language": {"id": 1, "code": language, "locale": f"{language}_{language.upper()}"},
        "customer": customer,
    }


def invoice_resource(
    *,
    invoice_id: int,
    order_id: int,
    updated_at: datetime,
    price_incl: Decimal,
    is_credit_note: bool = True,
    customer_id: int | None = None,
    price_excl: Decimal | None = None,
    shipment_price_incl: Decimal = Decimal(0),
    shipment_price_excl: Decimal = Decimal(0),
) -> dict[str, Any]:
    """Return an invoice resource; a credit note (a refund) unless ``is_credit_note`` is False."""
    if price_excl is None:
        price_excl = (price_incl / Decimal("1.21")).quantize(Decimal("0.01"))
    customer: Any = (
        {
            "resource": {
                "id": customer_id,
                "url": f"customers/{customer_id}",
                "link": f"https://api.webshopapp.com/en/customers/{customer_id}.json",
            }
        }
        if customer_id is not None
        else False
    )
    return {
        "id": invoice_id,
        "createdAt": updated_at.isoformat(),
        "updatedAt": updated_at.isoformat(),
        "number": f"{'CN' if is_credit_note else 'INV'}{invoice_id:05d}",
        "status": "paid",
        "isCreditNote": is_credit_note,
        "priceExcl": price_excl,
        "priceIncl": price_incl,
        "shipmentPriceExcl": shipment_price_excl,
        "shipmentPriceIncl": shipment_price_incl,
        "order": {
            "resource": {
                "id": order_id,
                "url": f"orders/{order_id}",
                "link": f"https://api.webshopapp.com/en/orders/{order_id}.json",
            }
        },
        "customer": customer,
    }


def _order_status(payment_status: str) -> str:
    return {
        "paid": "processing_awaiting_shipment",
        "cancelled": "cancelled",
        "partially_paid": "processing_awaiting_payment",
    }.get(payment_status, "processing_awaiting_payment")


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # The platform writes amounts as JSON numbers.
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def webhook_body(resource: dict[str, Any], root: str = "order") -> bytes:
    """Return the raw body the platform posts: the resource under one root key."""
    return json.dumps({root: resource}, default=_json_default).encode()


def webhook_headers(
    shop: Shop, body: bytes, event: str = "orders/updated", language: str = "en"
) -> dict[str, str]:
    """Return the headers the platform sends with ``body``, signed with the shop's secret."""
    return {
        "Content-Type": "application/json",
        "X-Shop-Id": str(shop.shop_id),
        "X-Cluster-Id": shop.cluster_id,
        "X-Event": event,
        "X-Language": language,
        "X-Format": "json",
        "X-Request-Id": str(uuid.uuid4()),
        "X-Signature": sign(body, shop.secret),
    }
