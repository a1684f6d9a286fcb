"""Server spans for the HTTP app, and its ``/metrics`` route in the Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.telemetry.spans import tracer

# Polled by probes and scrapers; a span per poll would bury the webhooks.
UNTRACED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})

metrics_router = APIRouter()


@metrics_router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    """Render every metric of this process for a Prometheus scrape."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class TracingMiddleware:
    """Opens a SERVER span per request, continuing a ``traceparent`` the client sent.

    The span carries the route template, never the raw path, because a path
    can hold a customer key, which for guests is an email address.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        carrier = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        method = scope["method"]
        with tracer().start_as_current_span(
            method,
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method},
        ) as span:

            async def send_with_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            try:
                await self.app(scope, receive, send_with_status)
            finally:
                _name_after_route(span, scope, method)


def _name_after_route(span: trace.Span, scope: Scope, method: str) -> None:
    route = getattr(scope.get("route"), "path", None)
    if isinstance(route, str):
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
