"""Turns a batch of points records into email jobs, in one transaction with the offsets.

A ``PointsEarned`` becomes a job (or a counted skip), a ``PointsRemoved`` cancels
its award's pending job, and a record that fails validation is dead-lettered.
Redelivered records find their offsets stored and change nothing. A republished
event finds its job and is ignored, so each award gets at most one job.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
from pydantic import ValidationError

from schemas.points import PointsEarned
from schemas.points_message import PointsMessage
from services.common.db import Connection
from services.common.records import DeadLetter, InboundRecord
from services.notifier.award_settings import settings_for_award
from services.notifier.jobs import EmailJob, cancel_job, insert_job, record_skip
from services.notifier.recipients import find_recipient
from services.store.offsets import lock_offsets, offsets_after, save_offsets

logger = logging.getLogger(__name__)

DeadLetterSink = Callable[[Sequence[DeadLetter]], Awaitable[None]]

# Maximum length of the validation message kept in a dead letter's reason.
MAX_REASON_CHARS = 2000


@dataclass
class NotifierOutcome:
    """Counts of one batch, for logs and tests."""

    consumed: int = 0
    redelivered: int = 0
    jobs_created: int = 0
    duplicates: int = 0
    jobs_cancelled: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def parse_points_record(record: InboundRecord) -> PointsMessage | DeadLetter:
    """Return the points message in ``record``, or a dead letter saying why there is none."""
    if record.value is None:
        return DeadLetter(record, "EmptyRecord", "record has no value (a tombstone)")
    try:
        return PointsMessage.model_validate_json(record.value)
    except ValidationError as error:
        return DeadLetter(record, "ValidationError", str(error)[:MAX_REASON_CHARS])


class NotifierProcessor:
    """Records email jobs for a batch of points records atomically with its offsets."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        group_id: str,
        dead_letter_sink: DeadLetterSink,
        on_jobs_created: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._group_id = group_id
        self._dead_letter_sink = dead_letter_sink
        self._on_jobs_created = on_jobs_created

    async def process(self, records: Sequence[InboundRecord]) -> NotifierOutcome:
        """Apply ``records`` once; records at offsets already stored are skipped."""
        outcome = NotifierOutcome(consumed=len(records))
        if not records:
            return outcome
        parsed = [(record, parse_points_record(record)) for record in records]

        async with self._pool.acquire() as connection, connection.transaction():
            stored = await lock_offsets(
                connection, self._group_id, {(r.topic, r.partition) for r in records}
            )
            fresh = [
                item
                for record, item in parsed
                if record.offset >= stored[(record.topic, record.partition)]
            ]
            outcome.redelivered = len(parsed) - len(fresh)
            for item in fresh:
                if isinstance(item, DeadLetter):
                    outcome.dead_letters.append(item)
                elif isinstance(item.event, PointsEarned):
                    await self._apply_award(connection, item, outcome)
                elif await cancel_job(connection, item.event.award_event_id):
                    outcome.jobs_cancelled += 1

            if outcome.dead_letters:
                await self._dead_letter_sink(outcome.dead_letters)
            await save_offsets(connection, self._group_id, offsets_after(records, stored))

        if outcome.jobs_created:
            self._on_jobs_created()
        return outcome

    async def _apply_award(
        self,
        connection: Connection,
        message: PointsMessage,
        outcome: NotifierOutcome,
    ) -> None:
        event = message.event
        assert isinstance(event, PointsEarned)
        merchant_settings = await settings_for_award(
            connection, event.merchant_id, event.rule_version
        )
        recipient = await find_recipient(
            connection, event.merchant_id, event.customer_key, event.order_id
        )
        skip_reason = None
        if recipient.shop_name is None:
            skip_reason = "unknown_merchant"
        elif not merchant_settings.earned_email_enabled:
            skip_reason = "disabled"
        elif recipient.email is None:
            skip_reason = "no_email"
        if skip_reason is not None:
            if await record_skip(connection, event.event_id, event.merchant_id, skip_reason):
                outcome.skipped[skip_reason] = outcome.skipped.get(skip_reason, 0) + 1
                logger.info(
                    "no email for award",
                    extra={
                        "event_id": str(event.event_id),
                        "merchant_id": event.merchant_id,
                        "reason": skip_reason,
                    },
                )
            return

        assert recipient.shop_name is not None
        assert recipient.email is not None
        delay = timedelta(seconds=merchant_settings.earned_email_delay_seconds)
        job = EmailJob(
            event_id=event.event_id,
            merchant_id=event.merchant_id,
            customer_key=event.customer_key,
            order_id=event.order_id,
            order_number=event.order_number,
            points=event.points,
            balance_after=message.balance_after,
            recipient=recipient.email,
            first_name=recipient.first_name,
            shop_name=recipient.shop_name,
            language=recipient.language,
            due_at=message.recorded_at + delay,
        )
        if await insert_job(connection, job):
            outcome.jobs_created += 1
        else:
            outcome.duplicates += 1
