"""Tracer and meter providers built from settings and installed as the process's globals."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from services.telemetry.redaction import RedactEmailsProcessor
from services.telemetry.settings import TelemetrySettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Telemetry:
    """The installed providers. ``shutdown`` exports the spans and metrics still buffered."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def install_providers(
    service_name: str,
    *,
    metric_readers: Sequence[MetricReader],
    span_processors: Sequence[SpanProcessor] = (),
) -> Telemetry:
    """Build providers for ``service_name`` and make them the global ones.

    Email addresses in span attributes are masked before any processor exports them.

    OpenTelemetry accepts the global providers once per process. A second call
    logs a warning, and the first providers stay in place.
    """
    resource = Resource.create({"service.name": service_name})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(RedactEmailsProcessor())
    for processor in span_processors:
        tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(resource=resource, metric_readers=list(metric_readers))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    return Telemetry(tracer_provider, meter_provider)


def configure_telemetry(settings: TelemetrySettings, default_service_name: str) -> Telemetry:
    """Install providers that serve Prometheus and, when an endpoint is set, export by OTLP.

    The Prometheus reader registers with ``prometheus_client``'s default
    registry, which ``/metrics`` renders.
    """
    service_name = settings.service_name or default_service_name
    readers: list[MetricReader] = [PrometheusMetricReader()]
    processors: list[SpanProcessor] = []
    endpoint = settings.otlp_endpoint
    if endpoint:
        base = endpoint.rstrip("/")
        readers.append(
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=f"{base}/v1/metrics"),
                export_interval_millis=settings.otlp_export_interval_ms,
            )
        )
        processors.append(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    telemetry = install_providers(service_name, metric_readers=readers, span_processors=processors)
    logger.info(
        "telemetry configured",
        extra={"service_name": service_name, "otlp_endpoint": endpoint or "off"},
    )
    return telemetry
