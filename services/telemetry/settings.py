"""Settings of the telemetry: service name, Prometheus endpoint and OTLP export."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from services.common.settings import CommonSettings


class TelemetrySettings(CommonSettings):
    """Telemetry settings: the address of the /metrics server and the OTLP export."""

    service_name: str | None = Field(
        default=None,
        description="service.name of traces and metrics; each service has its own default.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address of the /metrics server of a consumer service.",
    )
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        default=9464,
        description="Port of the /metrics server of a consumer service; 0 turns it off.",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="Base URL of an OTLP/HTTP collector, such as http://127.0.0.1:4318; "
        "traces and metrics are exported to it when set.",
    )
    otlp_export_interval_ms: Annotated[int, Field(ge=1000)] = Field(
        default=15_000, description="Interval between two OTLP metric exports."
    )
