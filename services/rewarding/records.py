"""Records and batch outcomes of the rewarding consumer."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.common.records import DeadLetter, InboundRecord


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
    points_written_off: int = 0
    events_appended: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)


__all__ = ["BatchOutcome", "DeadLetter", "InboundRecord"]
