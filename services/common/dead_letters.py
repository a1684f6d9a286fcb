"""Publishing dead letters to ``<topic>.dlq`` with the reason in headers."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from faststream.kafka import KafkaBroker

from services.common.records import DeadLetter
from services.telemetry.propagation import trace_log_fields

logger = logging.getLogger(__name__)


def dead_letter_headers(letter: DeadLetter) -> dict[str, str]:
    """Return the headers that name a dead letter's origin and the reason it failed."""
    record = letter.record
    headers = {key: value.decode("utf-8", "replace") for key, value in record.headers}
    headers.update(
        {
            "dlq-error-type": letter.error_type,
            "dlq-reason": letter.reason,
            "dlq-original-topic": record.topic,
            "dlq-original-partition": str(record.partition),
            "dlq-original-offset": str(record.offset),
        }
    )
    return headers


class KafkaDeadLetterSink:
    """Publishes dead letters and waits for the broker to acknowledge each."""

    def __init__(self, broker: KafkaBroker, topic: str) -> None:
        self._broker = broker
        self._topic = topic

    async def __call__(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            await self._broker.publish(
                letter.record.value or b"",
                topic=self._topic,
                key=letter.record.key,
                headers=dead_letter_headers(letter),
            )
            logger.warning(
                "record dead-lettered",
                extra={
                    **trace_log_fields(letter.record.headers),
                    "topic": letter.record.topic,
                    "partition": letter.record.partition,
                    "offset": letter.record.offset,
                    "error_type": letter.error_type,
                    "dlq_topic": self._topic,
                },
            )
