"""Consumer lag: the fetch's high watermark minus the next offset to process."""

from __future__ import annotations

from typing import Any, cast

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from services.telemetry import consumer as batch_telemetry
from services.telemetry.instruments import ConsumerLagGauge

TOPIC = "orders"


class FetchedConsumer:
    """The consumer state that lag reads: assignment, high watermarks and positions."""

    def __init__(self, highwaters: dict[int, int | None], positions: dict[int, int]) -> None:
        self._highwaters = highwaters
        self._positions = positions

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, number) for number in self._highwaters}

    def highwater(self, partition: TopicPartition) -> int | None:
        return self._highwaters[partition.partition]

    async def position(self, partition: TopicPartition) -> int:
        if partition.partition not in self._positions:
            raise IllegalStateError("partition is not assigned")
        return self._positions[partition.partition]


def observed(reader: InMemoryMetricReader) -> dict[str, float]:
    data = reader.get_metrics_data()
    assert data is not None
    return {
        str((point.attributes or {})["partition"]): getattr(point, "value", -1)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
    }


async def test_lag_per_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = InMemoryMetricReader()
    gauge = ConsumerLagGauge(MeterProvider(metric_readers=[reader]).get_meter("test"))
    instruments = type("Instruments", (), {"consumer_lag": gauge})()
    monkeypatch.setattr(batch_telemetry, "instruments", lambda: instruments)
    consumer = FetchedConsumer(
        highwaters={0: 10, 1: 7, 2: None, 3: 5},
        positions={1: 4},
    )

    await batch_telemetry.record_lag(cast(Any, consumer), "group", {(TOPIC, 0): 8})

    lags = observed(reader)
    assert lags["0"] == 2
    assert lags["1"] == 3
    assert "2" not in lags
    assert "3" not in lags


async def test_revoked_partition_lag_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = InMemoryMetricReader()
    gauge = ConsumerLagGauge(MeterProvider(metric_readers=[reader]).get_meter("test"))
    instruments = type("Instruments", (), {"consumer_lag": gauge})()
    monkeypatch.setattr(batch_telemetry, "instruments", lambda: instruments)
    consumer = FetchedConsumer(highwaters={0: 3, 1: 3}, positions={0: 3, 1: 1})
    await batch_telemetry.record_lag(cast(Any, consumer), "group", {})

    batch_telemetry.forget_lag("group", {TopicPartition(TOPIC, 1)})

    assert observed(reader) == {"0": 0}
