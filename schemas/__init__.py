"""Public event contract of loyalty-ledger: pydantic models and their JSON Schema files."""

from schemas.ids import derive_event_id, order_refunded_event_id, order_status_event_id
from schemas.order_events import OrderEvent
from schemas.orders import (
    Amounts,
    Customer,
    OrderStatusChanged,
    PaymentStatus,
)
from schemas.points import PointsEarned, PointsEvent, PointsRemoved
from schemas.points_message import PointsMessage
from schemas.refunds import OrderRefunded

__all__ = [
    "Amounts",
    "Customer",
    "OrderEvent",
    "OrderRefunded",
    "OrderStatusChanged",
    "PaymentStatus",
    "PointsEarned",
    "PointsEvent",
    "PointsMessage",
    "PointsRemoved",
    "derive_event_id",
    "order_refunded_event_id",
    "order_status_event_id",
]
