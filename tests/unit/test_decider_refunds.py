"""Refunds and the negative-balance policy in the decider."""

from decimal import Decimal

import pytest

from schemas.order_events import OrderEvent
from schemas.points import PointsEarned, PointsRemoved
from services.rewarding.decider import decide
from services.rewarding.events import (
    OrderEventIgnored,
    OrderRefundApplied,
    PointsRemovalClamped,
    RecordedEvent,
)
from services.rewarding.rules import (
    DEFAULT_RULES,
    AmountBasis,
    NegativeBalancePolicy,
    RewardRules,
)
from services.rewarding.state import OrderState, fold
from tests.unit.factories import order_event, refund_event

CLAMP = RewardRules(negative_balance_policy=NegativeBalancePolicy.CLAMP)


def run(
    *events: OrderEvent, rules: RewardRules = DEFAULT_RULES, balance: int = 0
) -> tuple[OrderState, list[RecordedEvent], int]:
    """Decide ``events`` in order for one customer whose balance starts at ``balance``."""
    state = OrderState()
    recorded: list[RecordedEvent] = []
    for event in events:
        for decided in decide(state, event, rules, balance=balance):
            state = state.evolve(decided)
            recorded.append(decided)
            if isinstance(decided, PointsEarned | PointsRemoved):
                balance += decided.signed_points
    return state, recorded, balance


def removed_points(recorded: list[RecordedEvent]) -> list[int]:
    return [e.points for e in recorded if isinstance(e, PointsRemoved)]


def test_partial_refund_keeps_floor_of_rest() -> None:
    state, recorded, balance = run(order_event("paid", total="100.00"), refund_event("30.50"))

    assert removed_points(recorded) == [31]
    assert balance == 69
    assert state.remaining_points == 69


def test_two_refunds_remove_the_difference_each() -> None:
    _, recorded, balance = run(
        order_event("paid", total="100.00"),
        refund_event("30.50", invoice_id="1"),
        refund_event("20.00", invoice_id="2", minutes=40),
    )

    assert removed_points(recorded) == [31, 20]
    assert balance == 49


def test_same_refund_twice_removes_once() -> None:
    refund = refund_event("30.00")
    _, recorded, balance = run(order_event("paid", total="100.00"), refund, refund)

    assert removed_points(recorded) == [30]
    assert balance == 70


def test_refunds_never_remove_more_than_the_award() -> None:
    _, recorded, balance = run(
        order_event("paid", total="100.00"),
        refund_event("80.00", invoice_id="1"),
        refund_event("80.00", invoice_id="2", minutes=31),
    )

    assert removed_points(recorded) == [80, 20]
    assert balance == 0


def test_refund_before_award_is_applied_at_award() -> None:
    _, recorded, balance = run(refund_event("40.00", minutes=1), order_event("paid", minutes=2))

    assert [type(e).__name__ for e in recorded if isinstance(e, PointsEarned | PointsRemoved)] == [
        "PointsEarned",
        "PointsRemoved",
    ]
    assert balance == 2  # floor(42.50 - 40.00)


def test_updated_credit_invoice_replaces_earlier_version() -> None:
    _, recorded, balance = run(
        order_event("paid", total="100.00"),
        refund_event("10.00", minutes=30),
        refund_event("25.00", minutes=35),
    )

    assert removed_points(recorded) == [10, 15]
    assert balance == 75


def test_older_invoice_version_is_stale() -> None:
    _, recorded, balance = run(
        order_event("paid", total="100.00"),
        refund_event("25.00", minutes=35),
        refund_event("10.00", minutes=30),
    )

    ignored = [e for e in recorded if isinstance(e, OrderEventIgnored)]
    assert len(ignored) == 1
    assert ignored[0].reason.startswith("stale: invoice CN9001")
    assert balance == 75


def test_refund_after_cancel_removes_nothing() -> None:
    _, recorded, balance = run(
        order_event("paid", total="100.00"),
        order_event("cancelled", minutes=5),
        refund_event("100.00"),
    )

    assert removed_points(recorded) == [100]
    assert balance == 0


def test_refund_uses_award_rate_and_basis() -> None:
    award_rules = RewardRules(
        version=2,
        points_per_unit=Decimal(2),
        amount_basis=AmountBasis.EXCLUDING_TAX,
        include_shipping=False,
    )
    state, _, _ = run(order_event("paid", total="121.00", shipping="0"), rules=award_rules)
    later = RewardRules(version=3, points_per_unit=Decimal(10))

    decided = decide(state, refund_event("60.50"), later, balance=200)

    removal = [e for e in decided if isinstance(e, PointsRemoved)]
    # Award: 100.00 excl. x 2 = 200. Refund: 50.00 excl., so 50.00 x 2 = 100 kept.
    assert removal[0].points == 100
    assert removal[0].rule_version == 2


def test_refund_of_order_without_award_is_recorded() -> None:
    state, recorded, _ = run(refund_event("10.00"))

    assert [type(e) for e in recorded] == [OrderRefundApplied]
    assert state.refunds[0].invoice_id == "9001"


def test_clamp_removes_only_the_balance() -> None:
    state, _, _ = run(order_event("paid", total="50.00"), rules=CLAMP)

    decided = decide(state, order_event("cancelled", minutes=5), CLAMP, balance=20)

    removed = [e for e in decided if isinstance(e, PointsRemoved)]
    clamped = [e for e in decided if isinstance(e, PointsRemovalClamped)]
    assert removed[0].points == 20
    assert clamped[0].requested_points == 50
    assert clamped[0].shortfall_points == 30
    assert clamped[0].balance_before == 20


def test_clamp_with_negative_balance_removes_nothing() -> None:
    state, _, _ = run(order_event("paid", total="50.00"), rules=CLAMP)

    decided = decide(state, order_event("cancelled", minutes=5), CLAMP, balance=-5)

    assert not [e for e in decided if isinstance(e, PointsRemoved)]
    clamped = [e for e in decided if isinstance(e, PointsRemovalClamped)]
    assert clamped[0].shortfall_points == 50


def test_clamped_shortfall_is_not_removed_again() -> None:
    state, _, _ = run(order_event("paid", total="50.00"), rules=CLAMP)
    for decided in decide(state, refund_event("20.00"), CLAMP, balance=0):
        state = state.evolve(decided)

    later = decide(state, order_event("cancelled", minutes=50), CLAMP, balance=100)

    assert [e.points for e in later if isinstance(e, PointsRemoved)] == [30]


def test_allow_removes_below_zero() -> None:
    state, _, _ = run(order_event("paid", total="50.00"))

    decided = decide(state, order_event("cancelled", minutes=5), DEFAULT_RULES, balance=10)

    assert [e.points for e in decided if isinstance(e, PointsRemoved)] == [50]


def test_clamp_without_balance_is_an_error() -> None:
    state, _, _ = run(order_event("paid", total="50.00"), rules=CLAMP)

    with pytest.raises(ValueError, match="needs the customer's balance"):
        decide(state, order_event("cancelled", minutes=5), CLAMP)


def test_earning_off_still_removes_on_cancel() -> None:
    state, _, _ = run(order_event("paid", total="50.00"))
    off = RewardRules(version=2, earning_enabled=False)

    decided = decide(state, order_event("cancelled", minutes=5), off, balance=50)

    assert [e.points for e in decided if isinstance(e, PointsRemoved)] == [50]


def test_fold_rebuilds_refund_state() -> None:
    state, recorded, _ = run(
        order_event("paid", total="100.00"), refund_event("30.00"), rules=CLAMP, balance=5
    )

    assert fold(recorded) == state
