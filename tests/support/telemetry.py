"""In-memory OpenTelemetry exporters for tests, installed once per test process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.telemetry.providers import install_providers


@dataclass
class CapturedTelemetry:
    """Finished spans and collected metrics of everything the test process ran."""

    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished_spans(self) -> tuple[ReadableSpan, ...]:
        return self.spans.get_finished_spans()

    def _metrics(self) -> Iterator[Metric]:
        data = self.metrics.get_metrics_data()
        if data is None:
            return
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                yield from scope.metrics

    def value(self, name: str, **attributes: str) -> float:
        """Return the sum of ``name`` over points whose attributes include ``attributes``.

        Counters and gauges add their values, and histograms add their counts.
        """
        total = 0.0
        for metric in self._metrics():
            if metric.name != name:
                continue
            for point in metric.data.data_points:
                point_attributes = dict(point.attributes or {})
                if any(point_attributes.get(k) != v for k, v in attributes.items()):
                    continue
                total += getattr(point, "count", None) or getattr(point, "value", 0)
        return total


def install_captured_telemetry() -> CapturedTelemetry:
    """Install providers that keep spans and metrics in memory and serve Prometheus too."""
    spans = InMemorySpanExporter()
    metrics = InMemoryMetricReader()
    install_providers(
        "loyalty-tests",
        metric_readers=[metrics, PrometheusMetricReader()],
        span_processors=[SimpleSpanProcessor(spans)],
    )
    return CapturedTelemetry(spans, metrics)
