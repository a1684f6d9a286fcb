from decimal import Decimal

from schemas.orders import PaymentStatus
from schemas.points import PointsEarned, PointsRemoved
from services.rewarding.decider import NO_CUSTOMER_REASON, decide
from services.rewarding.events import OrderEventIgnored, OrderStatusApplied, RecordedEvent
from services.rewarding.rules import DEFAULT_RULES, AmountBasis, RewardRules, points_for
from services.rewarding.state import OrderState, fold
from tests.unit.factories import order_event


def run(*events, rules: RewardRules = DEFAULT_RULES) -> tuple[OrderState, list[RecordedEvent]]:  # type: ignore[no-untyped-def]
    state = OrderState()
    recorded: list[RecordedEvent] = []
    for event in events:
        for decided in decide(state, event, rules):
            state = state.evolve(decided)
            recorded.append(decided)
    return state, recorded


def points_events(recorded: list[RecordedEvent]) -> list[PointsEarned | PointsRemoved]:
    return [e for e in recorded if isinstance(e, PointsEarned | PointsRemoved)]


def test_paid_order_earns_floor_of_total() -> None:
    _, recorded = run(order_event("paid", total="42.99"))

    earned = points_events(recorded)
    assert len(earned) == 1
    assert isinstance(earned[0], PointsEarned)
    assert earned[0].points == 42
    assert earned[0].basis_amount == Decimal("42.99")
    assert earned[0].rule_version == 1


def test_not_paid_order_earns_nothing() -> None:
    _, recorded = run(order_event("not_paid"))

    assert points_events(recorded) == []
    assert isinstance(recorded[0], OrderStatusApplied)


def test_same_event_twice_earns_once() -> None:
    paid = order_event("paid")
    _, recorded = run(paid, paid)

    assert len(points_events(recorded)) == 1
    assert len(recorded) == 2  # applied + earned, nothing for the duplicate


def test_second_paid_update_does_not_earn_again() -> None:
    _, recorded = run(order_event("paid"), order_event("paid", minutes=5))

    assert len(points_events(recorded)) == 1


def test_cancel_removes_exactly_the_award() -> None:
    state, recorded = run(order_event("paid", total="75.99"), order_event("cancelled", minutes=9))

    removed = [e for e in recorded if isinstance(e, PointsRemoved)]
    assert len(removed) == 1
    assert removed[0].points == 75
    assert state.remaining_points == 0


def test_cancel_without_award_removes_nothing() -> None:
    _, recorded = run(order_event("cancelled"))

    assert points_events(recorded) == []


def test_paid_after_cancel_never_earns_again() -> None:
    _, recorded = run(
        order_event("paid"), order_event("cancelled", minutes=1), order_event("paid", minutes=2)
    )

    kinds = [type(e).__name__ for e in points_events(recorded)]
    assert kinds == ["PointsEarned", "PointsRemoved"]


def test_stale_event_is_recorded_and_changes_nothing() -> None:
    _, recorded = run(order_event("cancelled", minutes=10), order_event("paid", minutes=1))

    assert points_events(recorded) == []
    ignored = [e for e in recorded if isinstance(e, OrderEventIgnored)]
    assert len(ignored) == 1
    assert ignored[0].reason.startswith("stale")


def test_order_without_customer_is_recorded_with_reason() -> None:
    _, recorded = run(order_event("paid", customer_key=None))

    assert points_events(recorded) == []
    ignored = [e for e in recorded if isinstance(e, OrderEventIgnored)]
    assert [e.reason for e in ignored] == [NO_CUSTOMER_REASON]


def test_total_below_one_unit_records_no_award() -> None:
    _, recorded = run(order_event("paid", total="0.99"))

    assert points_events(recorded) == []


def test_event_ids_are_deterministic() -> None:
    _, first = run(order_event("paid"), order_event("cancelled", minutes=3))
    _, second = run(order_event("paid"), order_event("cancelled", minutes=3))

    assert [e.event_id for e in first] == [e.event_id for e in second]


def test_fold_rebuilds_the_same_state() -> None:
    state, recorded = run(order_event("paid"), order_event("cancelled", minutes=3))

    assert fold(recorded) == state


def test_removal_uses_award_rule_version() -> None:
    state, _ = run(order_event("paid"), rules=RewardRules(version=3))
    later_rules = RewardRules(version=4, points_per_unit=Decimal(10))

    decided = decide(state, order_event("cancelled", minutes=1), later_rules)

    removed = [e for e in decided if isinstance(e, PointsRemoved)]
    assert removed[0].rule_version == 3
    assert removed[0].points == 42


def test_custom_statuses_and_basis() -> None:
    rules = RewardRules(
        reward_statuses=frozenset({PaymentStatus.PARTIALLY_PAID}),
        cancel_statuses=frozenset(),
        amount_basis=AmountBasis.INCLUDING_TAX,
        include_shipping=False,
        points_per_unit=Decimal("2"),
    )
    _, recorded = run(
        order_event("partially_paid", total="20.00", shipping="5.00"),
        order_event("cancelled", minutes=1),
        rules=rules,
    )

    earned = points_events(recorded)
    assert [e.points for e in earned] == [30]


def test_points_for_rounds_down() -> None:
    assert points_for(Decimal("9.999"), Decimal(1)) == 9
    assert points_for(Decimal("10"), Decimal("1.5")) == 15
    assert points_for(Decimal("0"), Decimal(1)) == 0
