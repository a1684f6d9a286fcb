"""Telemetry for the lifetime of a consumer process: providers plus its ``/metrics`` server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from services.telemetry.metrics_server import start_metrics_server
from services.telemetry.providers import Telemetry, configure_telemetry
from services.telemetry.settings import TelemetrySettings


@contextmanager
def consumer_telemetry(
    settings: TelemetrySettings, default_service_name: str
) -> Iterator[Telemetry]:
    """Install the providers and serve ``/metrics`` on ``LOYALTY_METRICS_PORT`` until exit.

    On exit the server closes and the providers flush what is left to export.
    """
    telemetry = configure_telemetry(settings, default_service_name)
    server = None
    try:
        if settings.metrics_port:
            server = start_metrics_server(settings.metrics_host, settings.metrics_port)
        yield telemetry
    finally:
        if server is not None:
            server.stop()
        telemetry.shutdown()
