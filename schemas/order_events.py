"""Every event type on ``orders.status-changed.v1``, distinguished by ``event_type``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

from schemas.orders import OrderStatusChanged
from schemas.refunds import OrderRefunded

OrderEvent = Annotated[OrderStatusChanged | OrderRefunded, Field(discriminator="event_type")]
"""Any event on the orders topic."""

ORDER_EVENT_ADAPTER: TypeAdapter[OrderStatusChanged | OrderRefunded] = TypeAdapter(OrderEvent)


def parse_order_event(raw: bytes | str) -> OrderStatusChanged | OrderRefunded:
    """Parse one record value of the orders topic; raise pydantic.ValidationError if invalid.

    Producers written before refunds existed may omit ``event_type``, so a
    record without it is read as an ``OrderStatusChanged``.
    """
    try:
        return ORDER_EVENT_ADAPTER.validate_json(raw)
    except ValidationError as error:
        if any(item["type"] == "union_tag_not_found" for item in error.errors()):
            return OrderStatusChanged.model_validate_json(raw)
        raise
