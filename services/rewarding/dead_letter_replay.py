"""Reading dead letters back and re-driving them to their original topic.

Re-publishing is safe because event ids are derived from the order's content and
the decider ignores an event it has seen. The replay of an original record is
stored in ``dead_letter_replays`` in a transaction that commits only after the
broker acknowledged the record, so later replays skip it. A crash between the
two re-drives the record again on the next replay, which the decider absorbs.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord

from services.common.kafka import producer_options
from services.common.settings import CommonSettings
from services.common.topic_reader import read_topic
from services.store.replays import OriginalPosition, Replay, record_replay, replayed_positions

DLQ_HEADER_PREFIX = "dlq-"


@dataclass(frozen=True)
class StoredLetter:
    """A record of a ``.dlq`` topic with the origin and error its headers name."""

    dlq_topic: str
    dlq_partition: int
    dlq_offset: int
    original_topic: str
    original_partition: int
    original_offset: int
    error_type: str
    reason: str
    key: bytes | None
    value: bytes | None
    original_headers: tuple[tuple[str, bytes], ...]

    @property
    def original(self) -> OriginalPosition:
        return (self.original_topic, self.original_partition, self.original_offset)


class InvalidDeadLetterError(ValueError):
    """A ``.dlq`` record lacks the ``dlq-original-*`` headers that name its origin."""


def parse_letter(record: ConsumerRecord) -> StoredLetter:
    """Return the dead letter in ``record``; raise InvalidDeadLetterError without dlq headers."""
    headers = {key: value.decode("utf-8", "replace") for key, value in record.headers or ()}
    try:
        return StoredLetter(
            dlq_topic=record.topic,
            dlq_partition=record.partition,
            dlq_offset=record.offset,
            original_topic=headers["dlq-original-topic"],
            original_partition=int(headers["dlq-original-partition"]),
            original_offset=int(headers["dlq-original-offset"]),
            error_type=headers.get("dlq-error-type", "unknown"),
            reason=headers.get("dlq-reason", ""),
            key=record.key,
            value=record.value,
            original_headers=tuple(
                (key, value)
                for key, value in record.headers or ()
                if not key.startswith(DLQ_HEADER_PREFIX)
            ),
        )
    except (KeyError, ValueError) as error:
        raise InvalidDeadLetterError(
            f"record {record.topic}[{record.partition}]@{record.offset} has no valid "
            f"dlq-original-* headers ({error}); it was not written by the dead-letter sink"
        ) from error


async def read_letters(settings: CommonSettings, dlq_topic: str) -> list[StoredLetter]:
    """Return every dead letter of ``dlq_topic``, oldest first."""
    records = await read_topic(settings.kafka_bootstrap_servers, dlq_topic)
    return [parse_letter(record) for record in records]


async def replay_letters(
    settings: CommonSettings,
    connection: asyncpg.Connection,
    letters: list[StoredLetter],
    *,
    dry_run: bool = False,
) -> list[StoredLetter]:
    """Re-publish the letters not replayed before; return those (that would be) re-driven."""
    done: set[OriginalPosition] = set()
    for topic in {letter.original_topic for letter in letters}:
        done |= await replayed_positions(connection, topic)
    pending: list[StoredLetter] = []
    for letter in letters:
        if letter.original not in done:
            done.add(letter.original)
            pending.append(letter)
    if dry_run or not pending:
        return pending

    replayed: list[StoredLetter] = []
    producer = AIOKafkaProducer(**producer_options(settings))
    await producer.start()
    try:
        for letter in pending:
            replay = Replay(
                letter.original,
                letter.dlq_topic,
                letter.dlq_partition,
                letter.dlq_offset,
                letter.error_type,
            )
            async with connection.transaction():
                if not await record_replay(connection, replay):
                    continue  # another replay took it since the read above
                await producer.send_and_wait(
                    letter.original_topic,
                    value=letter.value,
                    key=letter.key,
                    headers=list(letter.original_headers),
                )
            replayed.append(letter)
    finally:
        await producer.stop()
    return replayed
