"""Kafka records as the batch processors see them, free of any client library."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import ConsumerRecord


@dataclass(frozen=True)
class InboundRecord:
    """One consumed Kafka record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


RecordId = tuple[str, int, int]
"""``(topic, partition, offset)`` of a record."""


def record_id(record: InboundRecord) -> RecordId:
    return (record.topic, record.partition, record.offset)


@dataclass(frozen=True)
class DeadLetter:
    """A record that cannot be applied, with the reason."""

    record: InboundRecord
    error_type: str
    reason: str


def to_inbound(record: ConsumerRecord) -> InboundRecord:
    return InboundRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
    )
