"""Every event type on ``orders.status-changed.v1``, distinguished by ``event_type``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Tag, TypeAdapter

from schemas.orders import OrderStatusChanged
from schemas.refunds import OrderRefunded


def _event_type(value: Any) -> str:
    # Producers written before refunds existed may omit event_type; their
    # records are status changes.
    if isinstance(value, dict):
        return str(value.get("event_type", "OrderStatusChanged"))
    return str(getattr(value, "event_type", "OrderStatusChanged"))


OrderEvent = Annotated[
    Annotated[OrderStatusChanged, Tag("OrderStatusChanged")]
    | Annotated[OrderRefunded, Tag("OrderRefunded")],
    Discriminator(
        _event_type,
        custom_error_type="invalid_event_type",
        custom_error_message="event_type must be OrderStatusChanged or OrderRefunded",
    ),
]
"""Any event on the orders topic."""

ORDER_EVENT_ADAPTER: TypeAdapter[OrderStatusChanged | OrderRefunded] = TypeAdapter(OrderEvent)
