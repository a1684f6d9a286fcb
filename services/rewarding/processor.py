"""Applies a batch of order records to the event store in one transaction.

The transaction appends the decided events, updates the projections and records
the settings version each record was decided with. It also stores the next
offsets, so a redelivered record finds its offset consumed and changes nothing.
Records that cannot be applied are dead-lettered before the commit, and their
positions are stored in the transaction.

A transient failure (see ``failures``) is raised to the consumer, which fetches
the batch again. Any other failure is blamed on a record: the batch is applied
again one record at a time, a record that keeps failing is dead-lettered with
the error, and the records after it on its partition go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence

import asyncpg
from pydantic import ValidationError

from schemas.order_events import parse_order_event
from schemas.orders import OrderStatusChanged
from schemas.points import PointsEarned, PointsRemoved
from schemas.refunds import OrderRefunded
from services.common.records import RecordId, record_id
from services.rewarding.decider import decide
from services.rewarding.event_log import Handled, log_handled
from services.rewarding.events import (
    OrderEventIgnored,
    OrderRefundApplied,
    OrderStatusApplied,
    PointsRemovalClamped,
)
from services.rewarding.failures import Backoff, is_transient
from services.rewarding.records import BatchOutcome, DeadLetter, InboundRecord
from services.rewarding.rules import NegativeBalancePolicy, RewardRules
from services.rewarding.rules_source import RulesSource
from services.rewarding.state import OrderState, fold
from services.store.dead_lettered import record_dead_letters
from services.store.event_store import NewEvent, append, load_streams
from services.store.merchants import existing_merchant_ids
from services.store.offsets import lock_offsets, offsets_after, save_offsets
from services.store.projections import (
    CustomerId,
    CustomerProfile,
    add_to_balances,
    load_balances,
    upsert_customers,
)
from services.store.settings_activations import SettingsUse, record_activations
from services.telemetry.propagation import trace_metadata

logger = logging.getLogger(__name__)

DeadLetterSink = Callable[[Sequence[DeadLetter]], Awaitable[None]]

# Maximum length, in characters, of the validation message kept in a dead letter's reason.
MAX_REASON_CHARS = 2000

# Attempts at a record that fails on its own before it is dead-lettered.
RECORD_ATTEMPTS = 3

OrderEvent = OrderStatusChanged | OrderRefunded


def parse_record(record: InboundRecord) -> OrderEvent | DeadLetter:
    """Return the order event in ``record``, or a dead letter saying why there is none."""
    if record.value is None:
        return DeadLetter(record, "EmptyRecord", "record has no value (a tombstone)")
    try:
        return parse_order_event(record.value)
    except ValidationError as error:
        reason = str(error)[:MAX_REASON_CHARS]
        return DeadLetter(record, "ValidationError", reason)


class BatchProcessor:
    """Decides and stores a batch of order records atomically.

    ``rejections`` names records to dead-letter without reading them, with the
    error type and reason. A replay passes the records the live group
    dead-lettered.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        group_id: str,
        rules_source: RulesSource,
        dead_letter_sink: DeadLetterSink,
        *,
        record_attempts: int = RECORD_ATTEMPTS,
        rejections: Mapping[RecordId, tuple[str, str]] | None = None,
    ) -> None:
        self._pool = pool
        self._group_id = group_id
        self._rules_source = rules_source
        self._dead_letter_sink = dead_letter_sink
        self._record_attempts = max(1, record_attempts)
        self._rejections = rejections or {}

    async def process_concurrently(
        self, records: Sequence[InboundRecord], parallelism: int
    ) -> BatchOutcome:
        """Apply ``records`` in up to ``parallelism`` transactions, one per group of partitions.

        Each partition's records stay in one transaction and in order, so the
        per-order ordering holds. While one transaction waits on PostgreSQL the
        next group is decided. When one group fails the others are cancelled;
        groups that committed first stay committed, and their stored offsets
        make a retry skip them.
        """
        groups: dict[int, list[InboundRecord]] = defaultdict(list)
        for record in records:
            groups[hash((record.topic, record.partition)) % max(parallelism, 1)].append(record)
        if len(groups) <= 1:
            return await self.process(records)
        async with asyncio.TaskGroup() as tasks:
            running = [tasks.create_task(self.process(group)) for group in groups.values()]
        return merge_outcomes([task.result() for task in running])

    async def process(self, records: Sequence[InboundRecord]) -> BatchOutcome:
        """Apply ``records`` once; records at offsets already stored are skipped.

        Raises the error of a transient failure. Records stored before it are skipped
        when the batch is fetched again.
        """
        try:
            return await self._apply(records)
        except Exception as error:
            if is_transient(error):
                raise
            logger.warning(
                "batch of %d records failed (%s: %s); applying them one at a time",
                len(records),
                type(error).__name__,
                error,
            )
        return merge_outcomes([await self._apply_alone(record) for record in records])

    async def _apply_alone(self, record: InboundRecord) -> BatchOutcome:
        """Apply one record in its own transaction; dead-letter it when it keeps failing."""
        backoff = Backoff(initial=0.1, maximum=1.0)
        for attempt in range(1, self._record_attempts + 1):
            try:
                return await self._apply([record])
            except Exception as error:
                if is_transient(error):
                    raise
                failure = error
                logger.warning(
                    "record failed on attempt %d of %d",
                    attempt,
                    self._record_attempts,
                    exc_info=True,
                    extra=_where(record),
                )
            if attempt < self._record_attempts:
                await asyncio.sleep(backoff.next_delay())
        reason = (
            f"applying the record failed {self._record_attempts} times, last with "
            f"{type(failure).__name__}: {failure}"
        )[:MAX_REASON_CHARS]
        letter = DeadLetter(record, type(failure).__name__, reason)
        return await self._apply([record], {record_id(record): letter})

    async def _apply(
        self,
        records: Sequence[InboundRecord],
        rejected: Mapping[RecordId, DeadLetter] | None = None,
    ) -> BatchOutcome:
        """Apply ``records`` in one transaction, dead-lettering those in ``rejected`` unread."""
        outcome = BatchOutcome(consumed=len(records))
        if not records:
            return outcome
        rejected = rejected or {}
        parsed = [
            (
                record,
                rejected.get(record_id(record)) or self._rejection(record) or parse_record(record),
            )
            for record in records
        ]

        async with self._pool.acquire() as connection, connection.transaction():
            stored = await lock_offsets(
                connection, self._group_id, {(r.topic, r.partition) for r in records}
            )
            fresh = [
                (record, item)
                for record, item in parsed
                if record.offset >= stored[(record.topic, record.partition)]
            ]
            outcome.redelivered = len(parsed) - len(fresh)

            events = [(r, item) for r, item in fresh if not isinstance(item, DeadLetter)]
            known = await existing_merchant_ids(connection, (e.merchant_id for _, e in events))
            rules = await self._rules_source.rules_for(
                connection,
                [(record_id(r), e.merchant_id) for r, e in events if e.merchant_id in known],
            )
            histories = await load_streams(connection, {e.stream_id for _, e in events})
            states = {stream_id: fold(history) for stream_id, history in histories.items()}
            # The balances the clamp policy compares against, kept current within
            # the batch. Merchants with the allow policy need none.
            balances = await load_balances(
                connection,
                {
                    key
                    for r, event in events
                    if _clamps(rules.get(record_id(r)))
                    and (key := _holder(states.get(event.stream_id, OrderState()), event))
                },
            )

            new_events: list[NewEvent] = []
            handled: list[Handled] = []
            profiles: list[CustomerProfile] = []
            uses: list[SettingsUse] = []
            for record, item in fresh:
                if isinstance(item, DeadLetter):
                    outcome.dead_letters.append(item)
                    continue
                if item.merchant_id not in known:
                    outcome.dead_letters.append(
                        DeadLetter(
                            record,
                            "UnknownMerchant",
                            f"merchant_id {item.merchant_id!r} is not registered; "
                            "add it with 'loyalty merchant add' and replay the dead letter",
                        )
                    )
                    continue
                state = states.get(item.stream_id, OrderState())
                holder = _holder(state, item)
                record_rules = rules[record_id(record)]
                uses.append(
                    SettingsUse(
                        record.topic,
                        record.partition,
                        record.offset,
                        item.merchant_id,
                        record_rules.version,
                    )
                )
                metadata = trace_metadata(record.headers)
                decided = decide(
                    state,
                    item,
                    record_rules,
                    balance=balances.get(holder, 0) if holder else None,
                )
                for event in decided:
                    state = state.evolve(event)
                    if isinstance(event, PointsEarned | PointsRemoved):
                        key = (event.merchant_id, event.customer_key)
                        balances[key] = balances.get(key, 0) + event.signed_points
                    new_events.append(
                        NewEvent(
                            stream_id=item.stream_id,
                            stream_version=state.version,
                            merchant_id=item.merchant_id,
                            customer_key=_customer_key(event, item, state),
                            event=event,
                            metadata=metadata,
                        )
                    )
                states[item.stream_id] = state
                _count(outcome, decided)
                handled.append((record, item, decided))
                if (
                    decided
                    and isinstance(item, OrderStatusChanged)
                    and item.customer.key is not None
                ):
                    profiles.append(_profile(item))

            positions = await append(connection, new_events)
            outcome.events_appended = len(positions)
            await add_to_balances(connection, _balance_deltas(new_events, positions))
            await upsert_customers(connection, profiles)
            await record_activations(connection, self._group_id, uses)

            if outcome.dead_letters:
                await record_dead_letters(connection, self._group_id, outcome.dead_letters)
                await self._dead_letter_sink(outcome.dead_letters)

            outcome.next_offsets = offsets_after(records, stored)
            await save_offsets(connection, self._group_id, outcome.next_offsets)
        log_handled(handled)
        return outcome

    def _rejection(self, record: InboundRecord) -> DeadLetter | None:
        found = self._rejections.get(record_id(record))
        if found is None:
            return None
        error_type, reason = found
        return DeadLetter(record, error_type, f"dead-lettered by the live consumer: {reason}")


def _where(record: InboundRecord) -> dict[str, object]:
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


def _clamps(rules: RewardRules | None) -> bool:
    return rules is not None and rules.negative_balance_policy is NegativeBalancePolicy.CLAMP


def _holder(state: OrderState, event: OrderEvent) -> CustomerId | None:
    """Return the customer whose balance the order's points are in, or would be."""
    if state.award is not None:
        return (state.award.merchant_id, state.award.customer_key)
    if isinstance(event, OrderStatusChanged) and event.customer.key is not None:
        return (event.merchant_id, event.customer.key)
    return None


def _customer_key(event: object, item: OrderEvent, state: OrderState) -> str | None:
    """Return the customer an appended event belongs to, for the per-customer index."""
    if isinstance(event, PointsEarned | PointsRemoved | PointsRemovalClamped):
        return event.customer_key
    if isinstance(item, OrderStatusChanged):
        return item.customer.key
    return state.award.customer_key if state.award is not None else None


def _count(outcome: BatchOutcome, decided: Sequence[object]) -> None:
    if not decided:
        outcome.duplicates += 1
        return
    for event in decided:
        if isinstance(event, OrderStatusApplied | OrderRefundApplied):
            outcome.applied += 1
        elif isinstance(event, OrderEventIgnored):
            if event.reason.startswith("stale"):
                outcome.stale += 1
            else:
                outcome.ignored += 1
        elif isinstance(event, PointsEarned):
            outcome.points_earned += event.points
        elif isinstance(event, PointsRemoved):
            outcome.points_removed += event.points
        elif isinstance(event, PointsRemovalClamped):
            outcome.points_written_off += event.shortfall_points


def _profile(event: OrderStatusChanged) -> CustomerProfile:
    assert event.customer.key is not None
    return CustomerProfile(
        merchant_id=event.merchant_id,
        customer_key=event.customer.key,
        platform_customer_id=event.customer.platform_id,
        email=event.customer.email,
        first_name=event.customer.first_name,
        last_name=event.customer.last_name,
        language=event.customer.language,
        seen_at=event.occurred_at,
    )


def _balance_deltas(
    events: Sequence[NewEvent], positions: Sequence[int]
) -> dict[tuple[str, str], tuple[int, int]]:
    deltas: dict[tuple[str, str], tuple[int, int]] = defaultdict(lambda: (0, 0))
    for new_event, position in zip(events, positions, strict=True):
        event = new_event.event
        if isinstance(event, PointsEarned | PointsRemoved):
            key = (event.merchant_id, event.customer_key)
            points, last = deltas[key]
            deltas[key] = (points + event.signed_points, max(last, position))
    return dict(deltas)


def merge_outcomes(outcomes: Sequence[BatchOutcome]) -> BatchOutcome:
    """Return the sum of ``outcomes`` of one batch processed in several transactions."""
    merged = BatchOutcome()
    for outcome in outcomes:
        merged.consumed += outcome.consumed
        merged.redelivered += outcome.redelivered
        merged.applied += outcome.applied
        merged.duplicates += outcome.duplicates
        merged.stale += outcome.stale
        merged.ignored += outcome.ignored
        merged.points_earned += outcome.points_earned
        merged.points_removed += outcome.points_removed
        merged.points_written_off += outcome.points_written_off
        merged.events_appended += outcome.events_appended
        merged.dead_letters.extend(outcome.dead_letters)
        merged.next_offsets.update(outcome.next_offsets)
    return merged
