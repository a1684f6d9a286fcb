"""Counters of what a batch of the rewarding consumer did."""

from __future__ import annotations

from services.rewarding.records import BatchOutcome
from services.telemetry.consumer import record_consumed
from services.telemetry.instruments import instruments


def start_counters(topic: str) -> None:
    """Expose the event and points counters at zero, so dashboards show 0 before any batch."""
    record_outcome(topic, BatchOutcome())


def record_outcome(topic: str, outcome: BatchOutcome) -> None:
    """Count what a committed batch did."""
    record_consumed(topic, outcome.consumed, outcome.redelivered, outcome.dead_letters)
    metrics = instruments()
    attributes = {"topic": topic}
    metrics.events_applied.add(outcome.applied, attributes)
    metrics.events_duplicate.add(outcome.duplicates, attributes)
    metrics.events_stale.add(outcome.stale, attributes)
    metrics.events_ignored.add(outcome.ignored, attributes)
    metrics.points_earned.add(outcome.points_earned)
    metrics.points_removed.add(outcome.points_removed)
