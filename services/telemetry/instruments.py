"""Every metric of the pipeline, with its name, unit and attributes, in one place.

Prometheus names follow from these: dots become underscores, counters gain
``_total`` and seconds gain ``_seconds`` (``loyalty.batch.duration`` is
``loyalty_batch_duration_seconds``). ``deploy/grafana/loyalty-ledger.json``
queries those names.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Meter, Observation
from opentelemetry.metrics import (
    _Gauge as Gauge,
)  # the type create_gauge returns

METER_NAME = "loyalty-ledger"

BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)
DURATION_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ConsumerLagGauge:
    """Lag per consumer group and partition, read by an observable gauge at each collection.

    A revoked partition is forgotten, so its last lag does not stay on the dashboard.
    """

    def __init__(self, meter: Meter) -> None:
        self._lags: dict[tuple[str, str, int], int] = {}
        self._lock = threading.Lock()
        meter.create_observable_gauge(
            "loyalty.consumer.lag",
            callbacks=[self._observe],
            unit="{record}",
            description="Records of a partition beyond the consumer's position "
            "(the high watermark of the last fetch minus the next offset to process).",
        )

    def set(self, group: str, topic: str, partition: int, lag: int) -> None:
        with self._lock:
            self._lags[(group, topic, partition)] = max(lag, 0)

    def forget(self, group: str, partitions: Iterable[tuple[str, int]]) -> None:
        with self._lock:
            for topic, partition in partitions:
                self._lags.pop((group, topic, partition), None)

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            lags = dict(self._lags)
        return [
            Observation(lag, {"group": group, "topic": topic, "partition": str(partition)})
            for (group, topic, partition), lag in lags.items()
        ]


@dataclass(frozen=True)
class Instruments:
    """The pipeline's metric instruments.

    Webhooks carry ``outcome``. Events and batches carry ``topic``, dead letters
    add ``error_type``, and batch durations add ``outcome`` (``ok`` or
    ``failed``). Failed emails carry ``error_type``.
    """

    webhooks_received: Counter
    events_consumed: Counter
    events_redelivered: Counter
    events_applied: Counter
    events_duplicate: Counter
    events_stale: Counter
    events_ignored: Counter
    events_dead_lettered: Counter
    points_earned: Counter
    points_removed: Counter
    batch_size: Histogram
    batch_duration: Histogram
    consumer_lag: ConsumerLagGauge
    emails_sent: Counter
    emails_failed: Counter
    emails_retried: Counter
    outbox_backlog: Gauge


def create_instruments(meter: Meter) -> Instruments:
    """Create every instrument on ``meter``."""

    def events(name: str, description: str) -> Counter:
        return meter.create_counter(f"loyalty.events.{name}", "{event}", description)

    return Instruments(
        webhooks_received=meter.create_counter(
            "loyalty.webhooks.received", "{webhook}", "Webhooks received, by HTTP outcome."
        ),
        events_consumed=events("consumed", "Records fetched from a topic."),
        events_redelivered=events(
            "redelivered", "Records skipped because their offset was already stored."
        ),
        events_applied=events("applied", "Order status changes applied to their order."),
        events_duplicate=events("duplicate", "Events already recorded for their order."),
        events_stale=events("stale", "Events older than the last applied one of their order."),
        events_ignored=events("ignored", "Events recorded as ignored for a reason besides age."),
        events_dead_lettered=events("dead_lettered", "Records sent to the dead-letter topic."),
        points_earned=meter.create_counter(
            "loyalty.points.earned", "{point}", "Points earned by customers."
        ),
        points_removed=meter.create_counter(
            "loyalty.points.removed", "{point}", "Points removed from customers."
        ),
        batch_size=meter.create_histogram(
            "loyalty.batch.size",
            "{record}",
            "Records per consumed batch.",
            explicit_bucket_boundaries_advisory=BATCH_SIZE_BUCKETS,
        ),
        batch_duration=meter.create_histogram(
            "loyalty.batch.duration",
            "s",
            "Time to process one batch, from delivery to commit.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS_SECONDS,
        ),
        consumer_lag=ConsumerLagGauge(meter),
        emails_sent=meter.create_counter(
            "loyalty.emails.sent", "{email}", "Emails the SMTP server accepted."
        ),
        emails_failed=meter.create_counter(
            "loyalty.emails.failed", "{email}", "Emails given up on after the last attempt."
        ),
        emails_retried=meter.create_counter(
            "loyalty.emails.retried", "{email}", "Email send attempts repeated after a failure."
        ),
        outbox_backlog=meter.create_gauge(
            "loyalty.outbox.backlog",
            "{event}",
            "Points events in the store not yet published to the points topic.",
        ),
    )


@cache
def instruments() -> Instruments:
    """Return the instruments on the global meter, created on the first call.

    The global meter forwards to the provider installed later, so instruments
    created before ``configure_telemetry`` still report.
    """
    return create_instruments(metrics.get_meter(METER_NAME))
