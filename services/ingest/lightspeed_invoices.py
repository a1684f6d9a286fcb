"""The Lightspeed eCom invoice resource and its normalization into ``OrderRefunded``.

A refund is a credit invoice (``isCreditNote`` true) on the order, delivered
through the ``invoices`` webhook group. The invoice links its order as
``{"resource": {"id": …}}`` under ``order``. Other invoices carry no refund.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from schemas.ids import order_refunded_event_id
from schemas.orders import Amounts
from schemas.refunds import OrderRefunded
from services.ingest.lightspeed import SOURCE, InvalidPayloadError, describe_validation_error


class _ResourceId(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int


class _OrderLink(BaseModel):
    model_config = ConfigDict(extra="ignore")
    resource: _ResourceId


class LightspeedInvoice(BaseModel):
    """The fields of a Lightspeed invoice that refunds use."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: int
    number: str = Field(min_length=1)
    updated_at: AwareDatetime = Field(alias="updatedAt")
    is_credit_note: bool = Field(default=False, alias="isCreditNote")
    price_incl: Decimal = Field(alias="priceIncl")
    price_excl: Decimal = Field(alias="priceExcl")
    shipment_price_incl: Decimal = Field(default=Decimal(0), alias="shipmentPriceIncl")
    shipment_price_excl: Decimal = Field(default=Decimal(0), alias="shipmentPriceExcl")
    currency: str | None = None
    order: _OrderLink


def parse_invoice(payload: Any) -> LightspeedInvoice:
    """Return the invoice under the ``invoice`` root key of ``payload``."""
    if not isinstance(payload, dict) or "invoice" not in payload:
        raise InvalidPayloadError('body must be a JSON object with the root key "invoice"')
    try:
        return LightspeedInvoice.model_validate(payload["invoice"])
    except ValidationError as error:
        raise InvalidPayloadError(describe_validation_error(error, "invoice")) from error


def normalize_credit_note(
    invoice: LightspeedInvoice, *, merchant_id: str, base_currency: str, received_at: datetime
) -> OrderRefunded:
    """Return the refund event for the credit invoice ``invoice``.

    Amounts are taken as absolute values, so a credit note written with negative
    amounts refunds the same as one written with positive amounts.
    """
    if not invoice.is_credit_note:
        raise ValueError(f"invoice {invoice.number} is not a credit note")
    refunded_incl = abs(invoice.price_incl)
    order_id = str(invoice.order.resource.id)
    return OrderRefunded(
        event_id=order_refunded_event_id(
            source=SOURCE,
            merchant_id=merchant_id,
            order_id=order_id,
            invoice_id=str(invoice.id),
            occurred_at=invoice.updated_at,
            refunded_incl=refunded_incl,
        ),
        merchant_id=merchant_id,
        source=SOURCE,
        order_id=order_id,
        invoice_id=str(invoice.id),
        invoice_number=invoice.number,
        amounts=Amounts(
            currency=(invoice.currency or base_currency).upper(),
            total_incl=refunded_incl,
            total_excl=abs(invoice.price_excl),
            shipping_incl=abs(invoice.shipment_price_incl),
            shipping_excl=abs(invoice.shipment_price_excl),
        ),
        occurred_at=invoice.updated_at,
        received_at=received_at,
    )
