"""FastAPI's built-in telemetry settings, and the ``/metrics`` route in the Prometheus format."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

# Probes and scrapers poll these paths, and a span per poll would bury the webhooks.
UNTRACED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})

metrics_router = APIRouter()


@metrics_router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    """Render every metric of this process for a Prometheus scrape."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in UNTRACED_PATHS


def http_telemetry() -> TelemetryConfig:
    """Return the ``FastAPI(telemetry=...)`` settings of the HTTP app.

    FastAPI opens a SERVER span per request on the global tracer provider and
    continues the ``traceparent`` a client sent. Its OpenTelemetry log records
    are off because they carry request bodies, which hold customer emails.
    """
    return {"logs": False, "exclude": _untraced}
