"""Spans, shared counters and lag of a batch consumer, for any consumer of the pipeline."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError
from opentelemetry import trace
from opentelemetry.trace import Link

from services.common.records import DeadLetter, InboundRecord
from services.telemetry.instruments import instruments
from services.telemetry.propagation import inject_headers
from services.telemetry.spans import batch_span, ending, start_process_span


@contextmanager
def traced_batch(topic: str, records: Sequence[InboundRecord]) -> Iterator[list[InboundRecord]]:
    """Open the batch span and one span per record, and yield records that point at their spans.

    Each record span continues the trace of the record's ``traceparent`` and
    links to the batch span. The yielded records carry the record span's
    ``traceparent`` instead, so whatever is stored or dead-lettered for a
    record continues the trace from the consumer.
    """
    with batch_span(topic, [record.headers for record in records]) as batch:
        batch_link = Link(batch.get_span_context())
        spans = [
            start_process_span(
                record.topic,
                record.headers,
                links=[batch_link],
                attributes={
                    "messaging.destination.partition.id": str(record.partition),
                    "messaging.kafka.offset": record.offset,
                },
            )
            for record in records
        ]
        traced = [
            dataclasses.replace(
                record,
                headers=tuple(inject_headers(record.headers, trace.set_span_in_context(span))),
            )
            for record, span in zip(records, spans, strict=True)
        ]
        with ending(spans):
            yield traced


def record_consumed(
    topic: str, consumed: int, redelivered: int, dead_letters: Sequence[DeadLetter]
) -> None:
    """Count the records of a committed batch, those skipped as redelivered and dead letters."""
    metrics = instruments()
    attributes = {"topic": topic}
    metrics.events_consumed.add(consumed, attributes)
    metrics.events_redelivered.add(redelivered, attributes)
    for letter in dead_letters:
        metrics.events_dead_lettered.add(1, {**attributes, "error_type": letter.error_type})


def record_batch(topic: str, records: int, seconds: float, *, failed: bool = False) -> None:
    """Record the size and the processing time of a batch, committed or failed."""
    metrics = instruments()
    metrics.batch_size.record(records, {"topic": topic})
    outcome = "failed" if failed else "ok"
    metrics.batch_duration.record(seconds, {"topic": topic, "outcome": outcome})


async def record_lag(
    consumer: AIOKafkaConsumer, group: str, next_offsets: dict[tuple[str, int], int]
) -> None:
    """Set the lag of every assigned partition that a fetch has reported on.

    The lag is the high watermark of the last fetch response minus the next
    offset to process. That is the offset committed with this batch when the batch
    has records of the partition, else the consumer's position. ``end_offsets()`` is not used,
    because some brokers (Tansu) report it wrongly.
    """
    lag = instruments().consumer_lag
    for partition in consumer.assignment():
        highwater = consumer.highwater(partition)
        if highwater is None:
            continue
        position = next_offsets.get((partition.topic, partition.partition))
        if position is None:
            try:
                position = await consumer.position(partition)
            except IllegalStateError:
                continue  # revoked by a rebalance while this loop awaited
        lag.set(group, partition.topic, partition.partition, highwater - position)


def forget_lag(group: str, partitions: set[TopicPartition]) -> None:
    """Drop the lag of revoked partitions, which this consumer no longer reads."""
    instruments().consumer_lag.forget(group, ((p.topic, p.partition) for p in partitions))
