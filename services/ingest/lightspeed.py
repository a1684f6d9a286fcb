"""The Lightspeed eCom order resource and its normalization into ``OrderStatusChanged``."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from schemas.ids import order_status_event_id
from schemas.orders import Amounts, Customer, OrderStatusChanged, PaymentStatus

SOURCE = "lightspeed-ecom"


class InvalidPayloadError(ValueError):
    """The webhook body is not a valid order; the message names the field."""


class _Language(BaseModel):
    model_config = ConfigDict(extra="ignore")
    code: str | None = None


class _ResourceRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int | None = None


class _CustomerLink(BaseModel):
    model_config = ConfigDict(extra="ignore")
    resource: _ResourceRef | None = None


class LightspeedOrder(BaseModel):
    """The fields of a Lightspeed order that loyalty decisions use."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: int
    number: str = Field(min_length=1)
    updated_at: AwareDatetime = Field(alias="updatedAt")
    payment_status: PaymentStatus = Field(alias="paymentStatus")
    status: str = Field(min_length=1)
    price_incl: Decimal = Field(alias="priceIncl", ge=0)
    price_excl: Decimal = Field(alias="priceExcl", ge=0)
    shipment_price_incl: Decimal = Field(default=Decimal(0), alias="shipmentPriceIncl")
    shipment_price_excl: Decimal = Field(default=Decimal(0), alias="shipmentPriceExcl")
    currency: str | None = None
    email: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    language: _Language | None = None
    # A registered customer is {"resource": {"id": …}}; a guest order may carry false.
    customer: _CustomerLink | bool | None = None

    @property
    def customer_id(self) -> str | None:
        link = self.customer
        if isinstance(link, _CustomerLink) and link.resource and link.resource.id is not None:
            return str(link.resource.id)
        return None


def load_json(body: bytes) -> Any:
    """Parse ``body`` as JSON with decimal numbers, or raise InvalidPayloadError."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidPayloadError(f"body is not valid JSON: {error}") from error


def describe_validation_error(error: ValidationError, root: str) -> str:
    """Return one line naming each invalid field of ``root`` and what is wrong with it."""
    problems = []
    for item in error.errors(include_url=False):
        location = ".".join([root, *(str(part) for part in item["loc"])])
        problems.append(f"{location}: {item['msg']}")
    return "; ".join(problems)


def parse_order(payload: Any) -> LightspeedOrder:
    """Return the order under the ``order`` root key of ``payload``."""
    if not isinstance(payload, dict) or "order" not in payload:
        raise InvalidPayloadError('body must be a JSON object with the root key "order"')
    try:
        return LightspeedOrder.model_validate(payload["order"])
    except ValidationError as error:
        raise InvalidPayloadError(describe_validation_error(error, "order")) from error


def customer_key(customer_id: str | None, email: str | None) -> str | None:
    """Return the platform customer id, else the trimmed lower-cased email, else None."""
    if customer_id:
        return customer_id
    if email and email.strip():
        return email.strip().lower()
    return None


def normalize_order(
    order: LightspeedOrder, *, merchant_id: str, base_currency: str, received_at: datetime
) -> OrderStatusChanged:
    """Return the source-agnostic event for ``order``."""
    currency = (order.currency or base_currency).upper()
    email = order.email.strip() if order.email and order.email.strip() else None
    language = order.language.code.lower() if order.language and order.language.code else None
    amounts = Amounts(
        currency=currency,
        total_incl=order.price_incl,
        total_excl=order.price_excl,
        shipping_incl=order.shipment_price_incl,
        shipping_excl=order.shipment_price_excl,
    )
    order_id = str(order.id)
    return OrderStatusChanged(
        event_id=order_status_event_id(
            source=SOURCE,
            merchant_id=merchant_id,
            order_id=order_id,
            occurred_at=order.updated_at,
            payment_status=order.payment_status.value,
            order_status=order.status,
            total_incl=order.price_incl,
        ),
        merchant_id=merchant_id,
        source=SOURCE,
        order_id=order_id,
        order_number=order.number,
        customer=Customer(
            key=customer_key(order.customer_id, email),
            platform_id=order.customer_id,
            email=email,
            first_name=order.firstname or None,
            last_name=order.lastname or None,
            language=language if language and len(language) == 2 else None,
        ),
        payment_status=order.payment_status,
        order_status=order.status,
        amounts=amounts,
        occurred_at=order.updated_at,
        received_at=received_at,
    )
