"""Kafka records as the batch processor receives them, free of any client library."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class InboundRecord:
    """One consumed Kafka record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class DeadLetter:
    """A record that cannot be applied, with the reason."""

    record: InboundRecord
    error_type: str
    reason: str


@dataclass
class BatchOutcome:
    """Counts of one batch's effects, for logs and metrics."""

    consumed: int = 0
    redelivered: int = 0
    applied: int = 0
    duplicates: int = 0
    stale: int = 0
    ignored: int = 0
    points_earned: int = 0
    points_removed: int = 0
    events_appended: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
