"""The projection definitions follow the recorded event types."""

from __future__ import annotations

from services.rewarding.events import RECORDED_EVENT_TYPES
from services.store.projection_registry import balance_signs, order_input_types, projections


def test_balance_signs_cover_points_events() -> None:
    assert balance_signs() == {"PointsEarned": 1, "PointsRemoved": -1}


def test_every_signed_event_type_counts() -> None:
    signed = {
        name for name, model in RECORDED_EVENT_TYPES.items() if hasattr(model, "signed_points")
    }

    assert set(balance_signs()) == signed


def test_order_inputs_are_recorded_orders() -> None:
    assert order_input_types() == ["OrderEventIgnored", "OrderStatusApplied"]


def test_projection_columns_are_unique() -> None:
    for projection in projections():
        assert len(set(projection.columns)) == len(projection.columns), projection.table
