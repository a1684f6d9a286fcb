"""Property-based tests of the decider against a small reference model.

Each example is a few orders of one customer: status changes with rising
updatedAt, credit invoices (some in two versions), delivered in a random order
with duplicates, and settings changes between deliveries.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.order_events import OrderEvent
from schemas.orders import Amounts, Customer, OrderStatusChanged, PaymentStatus
from schemas.points import PointsEarned, PointsRemoved
from schemas.refunds import OrderRefunded
from services.rewarding.decider import decide
from services.rewarding.events import PointsRemovalClamped, RecordedEvent
from services.rewarding.rules import AmountBasis, NegativeBalancePolicy, RewardRules
from services.rewarding.state import OrderState, fold

T0 = datetime(2026, 11, 3, 13, 0, tzinfo=UTC)
CUSTOMER = "501"
EXAMPLES = settings(max_examples=500, deadline=None)

# ---------------------------------------------------------------- strategies

cents = st.integers(min_value=0, max_value=20_000).map(lambda c: Decimal(c) / 100)


@st.composite
def reward_rules(draw: st.DrawFn, version: int) -> RewardRules:
    # Each status is a reward status, a cancel status or neither, so the sets never overlap.
    roles = {
        status: draw(st.sampled_from(["reward", "cancel", "none"])) for status in PaymentStatus
    }
    return RewardRules(
        version=version,
        earning_enabled=draw(st.booleans()),
        reward_statuses=frozenset(s for s, role in roles.items() if role == "reward"),
        cancel_statuses=frozenset(s for s, role in roles.items() if role == "cancel"),
        points_per_unit=draw(st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(1), Decimal(3)])),
        amount_basis=draw(st.sampled_from(list(AmountBasis))),
        include_shipping=draw(st.booleans()),
        negative_balance_policy=draw(st.sampled_from(list(NegativeBalancePolicy))),
    )


def amounts(total: Decimal, shipping: Decimal) -> Amounts:
    return Amounts(
        currency="EUR",
        total_incl=total,
        total_excl=(total / Decimal("1.21")).quantize(Decimal("0.01")),
        shipping_incl=shipping,
        shipping_excl=(shipping / Decimal("1.21")).quantize(Decimal("0.01")),
    )


@st.composite
def order_facts(draw: st.DrawFn, order_id: str) -> list[OrderEvent]:
    """Status changes and credit invoices of one order, each a distinct source fact."""
    total = draw(cents)
    shipping = min(draw(cents), total)
    customer_key = draw(st.sampled_from([CUSTOMER, CUSTOMER, CUSTOMER, None]))
    facts: list[OrderEvent] = []
    minute = 0
    for index in range(draw(st.integers(min_value=1, max_value=5))):
        minute += draw(st.integers(min_value=0, max_value=3))
        status = draw(st.sampled_from(list(PaymentStatus)))
        facts.append(
            OrderStatusChanged(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{order_id}/status/{index}"),
                merchant_id="m",
                source="test",
                order_id=order_id,
                order_number=f"ORD{order_id}",
                customer=Customer(key=customer_key),
                payment_status=status,
                order_status="processing",
                amounts=amounts(total, shipping),
                occurred_at=T0 + timedelta(minutes=minute),
                received_at=T0,
            )
        )
    for index in range(draw(st.integers(min_value=0, max_value=3))):
        invoice = draw(st.sampled_from(["1", "2"]))
        refunded = min(draw(cents), total)
        facts.append(
            OrderRefunded(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{order_id}/refund/{index}"),
                merchant_id="m",
                source="test",
                order_id=order_id,
                invoice_id=invoice,
                invoice_number=f"CN{invoice}",
                amounts=amounts(refunded, Decimal(0)),
                occurred_at=T0 + timedelta(minutes=draw(st.integers(0, 15)), seconds=index),
                received_at=T0,
            )
        )
    return facts


@dataclass(frozen=True)
class Scenario:
    deliveries: list[OrderEvent | RewardRules]
    first_rules: RewardRules
    opening_balance: int


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Facts of up to three orders, delivered shuffled, with duplicates and settings changes."""
    facts: list[OrderEvent] = []
    for number in range(draw(st.integers(min_value=1, max_value=3))):
        facts.extend(draw(order_facts(str(1000 + number))))
    duplicates = draw(st.lists(st.sampled_from(facts), max_size=4))
    changes = [draw(reward_rules(version)) for version in range(2, draw(st.integers(2, 4)))]
    deliveries: list[OrderEvent | RewardRules] = draw(st.permutations([*facts, *duplicates]))
    # Settings versions only rise, so each change goes after the previous one.
    position = 0
    for change in changes:
        position = draw(st.integers(min_value=position, max_value=len(deliveries)))
        deliveries.insert(position, change)
        position += 1
    return Scenario(
        deliveries=deliveries,
        first_rules=draw(reward_rules(1)),
        opening_balance=draw(st.integers(min_value=0, max_value=60)),
    )


# ----------------------------------------------------------- implementation


@dataclass
class Run:
    streams: dict[str, list[RecordedEvent]] = field(default_factory=lambda: defaultdict(list))
    states: dict[str, OrderState] = field(default_factory=dict)
    balance: int = 0
    balance_before_removal: list[tuple[int, int, NegativeBalancePolicy]] = field(
        default_factory=list
    )


def run_decider(scenario: Scenario) -> Run:
    """Deliver the scenario to the decider, as the processor does for one customer."""
    result = Run(balance=scenario.opening_balance)
    rules = scenario.first_rules
    for delivery in scenario.deliveries:
        if isinstance(delivery, RewardRules):
            rules = delivery
            continue
        state = result.states.get(delivery.order_id, OrderState())
        for event in decide(state, delivery, rules, balance=result.balance):
            state = state.evolve(event)
            result.streams[delivery.order_id].append(event)
            if isinstance(event, PointsRemoved):
                result.balance_before_removal.append(
                    (result.balance, event.points, rules.negative_balance_policy)
                )
            if isinstance(event, PointsEarned | PointsRemoved):
                result.balance += event.signed_points
        result.states[delivery.order_id] = state
    return result


def ledger(result: Run) -> list[dict[str, Any]]:
    return [
        event.model_dump(mode="json")
        for order_id in sorted(result.streams)
        for event in result.streams[order_id]
    ]


# --------------------------------------------------------- reference model


def basis(rules: RewardRules, value: Amounts) -> Decimal:
    if rules.amount_basis is AmountBasis.INCLUDING_TAX:
        total, shipping = value.total_incl, value.shipping_incl
    else:
        total, shipping = value.total_excl, value.shipping_excl
    return max(total - (Decimal(0) if rules.include_shipping else shipping), Decimal(0))


def floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


@dataclass
class ModelOrder:
    """What an order should hold, computed from its applied facts."""

    seen: set[uuid.UUID] = field(default_factory=set)
    last_status_at: datetime | None = None
    award: int = 0
    award_rules: RewardRules | None = None
    award_basis: Decimal = Decimal(0)
    refunds: dict[str, OrderRefunded] = field(default_factory=dict)
    held_points: int = 0

    def refund_target(self) -> int:
        assert self.award_rules is not None
        refunded = sum(
            (basis(self.award_rules, r.amounts) for r in self.refunds.values()), Decimal(0)
        )
        kept_basis = max(self.award_basis - refunded, Decimal(0))
        return floor(kept_basis * self.award_rules.points_per_unit)

    def deliver(self, fact: OrderEvent, rules: RewardRules) -> None:
        if fact.event_id in self.seen:
            return
        self.seen.add(fact.event_id)
        if isinstance(fact, OrderRefunded):
            earlier = self.refunds.get(fact.invoice_id)
            if earlier is not None and fact.occurred_at < earlier.occurred_at:
                return
            self.refunds[fact.invoice_id] = fact
            if self.award_rules is not None:
                self.held_points = min(self.held_points, self.refund_target())
            return
        if self.last_status_at is not None and fact.occurred_at < self.last_status_at:
            return
        self.last_status_at = fact.occurred_at
        status = fact.payment_status
        points = floor(basis(rules, fact.amounts) * rules.points_per_unit)
        if (
            self.award_rules is None
            and fact.customer.key is not None
            and rules.earning_enabled
            and status in rules.reward_statuses
            and points > 0
        ):
            self.award, self.award_rules = points, rules
            self.award_basis = basis(rules, fact.amounts)
            self.held_points = points
        if self.award_rules is not None:
            target = 0 if status in rules.cancel_statuses else self.refund_target()
            self.held_points = min(self.held_points, target)


def run_model(scenario: Scenario) -> dict[str, ModelOrder]:
    orders: dict[str, ModelOrder] = defaultdict(ModelOrder)
    rules = scenario.first_rules
    for delivery in scenario.deliveries:
        if isinstance(delivery, RewardRules):
            rules = delivery
        else:
            orders[delivery.order_id].deliver(delivery, rules)
    return orders


# --------------------------------------------------------------- properties


def of_type(events: list[RecordedEvent], kind: type[Any]) -> list[Any]:
    return [event for event in events if isinstance(event, kind)]


@EXAMPLES
@given(scenarios())
def test_order_earns_at_most_once(scenario: Scenario) -> None:
    result = run_decider(scenario)

    for events in result.streams.values():
        assert len(of_type(events, PointsEarned)) <= 1


@EXAMPLES
@given(scenarios())
def test_removals_never_exceed_award(scenario: Scenario) -> None:
    result = run_decider(scenario)

    for events in result.streams.values():
        earned = sum(e.points for e in of_type(events, PointsEarned))
        removed = sum(e.points for e in of_type(events, PointsRemoved))
        written_off = sum(e.shortfall_points for e in of_type(events, PointsRemovalClamped))
        assert removed + written_off <= earned


@EXAMPLES
@given(scenarios())
def test_balance_is_sum_of_ledger(scenario: Scenario) -> None:
    result = run_decider(scenario)

    signed = sum(
        e.signed_points
        for events in result.streams.values()
        for e in events
        if isinstance(e, PointsEarned | PointsRemoved)
    )
    assert result.balance == scenario.opening_balance + signed


@EXAMPLES
@given(scenarios())
def test_clamp_never_removes_below_zero(scenario: Scenario) -> None:
    result = run_decider(scenario)

    for balance, points, policy in result.balance_before_removal:
        if policy is NegativeBalancePolicy.CLAMP:
            assert points <= max(balance, 0)


@EXAMPLES
@given(scenarios())
def test_decider_matches_reference_model(scenario: Scenario) -> None:
    result = run_decider(scenario)
    model = run_model(scenario)

    for order_id, expected in model.items():
        events = result.streams[order_id]
        earned = sum(e.points for e in of_type(events, PointsEarned))
        removed = sum(e.points for e in of_type(events, PointsRemoved))
        written_off = sum(e.shortfall_points for e in of_type(events, PointsRemovalClamped))
        assert earned == expected.award, order_id
        assert earned - removed - written_off == expected.held_points, order_id


@EXAMPLES
@given(scenarios())
def test_same_inputs_give_same_ledger(scenario: Scenario) -> None:
    first = run_decider(scenario)
    second = run_decider(scenario)

    assert ledger(first) == ledger(second)


@EXAMPLES
@given(scenarios())
def test_redelivering_everything_changes_nothing(scenario: Scenario) -> None:
    once = run_decider(scenario)
    twice = run_decider(
        Scenario(
            deliveries=[item for item in scenario.deliveries for _ in range(2)],
            first_rules=scenario.first_rules,
            opening_balance=scenario.opening_balance,
        )
    )

    assert ledger(once) == ledger(twice)


@EXAMPLES
@given(scenarios())
def test_fold_of_stream_is_decided_state(scenario: Scenario) -> None:
    result = run_decider(scenario)

    for order_id, events in result.streams.items():
        assert fold(events) == result.states[order_id]
