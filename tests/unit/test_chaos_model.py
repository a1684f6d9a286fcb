"""The chaos run's reference model and its comparison of ledgers."""

from __future__ import annotations

from collections import Counter

from services.devstack.chaos.model import compare, expected_ledgers
from tests.unit.factories import order_event

CUSTOMER = ("ls-eu1-1", "501")


def test_paid_earns_once_despite_duplicates() -> None:
    paid = order_event("paid", total="42.99")

    ledgers = expected_ledgers([paid, paid])

    assert ledgers == {CUSTOMER: Counter({("1001", "PointsEarned", 42): 1})}


def test_paid_then_cancelled_removes_award() -> None:
    ledgers = expected_ledgers(
        [order_event("paid", minutes=0), order_event("cancelled", minutes=5)]
    )

    assert ledgers[CUSTOMER] == Counter(
        {("1001", "PointsEarned", 42): 1, ("1001", "PointsRemoved", -42): 1}
    )


def test_stale_paid_after_cancel_ignored() -> None:
    ledgers = expected_ledgers(
        [order_event("cancelled", minutes=5), order_event("paid", minutes=0)]
    )

    assert ledgers == {}


def test_compare_counts_lost_and_duplicated_points() -> None:
    expected = {CUSTOMER: Counter({("1", "PointsEarned", 10): 1, ("2", "PointsEarned", 7): 1})}
    actual = {CUSTOMER: Counter({("1", "PointsEarned", 10): 2})}

    lost, duplicated, differing = compare(expected, actual)

    assert lost == 7
    assert duplicated == 10
    assert differing == 1
