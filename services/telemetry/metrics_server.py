"""The ``/metrics`` HTTP server of a consumer service, which has no HTTP app of its own."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from services.common.errors import ConfigurationError

logger = logging.getLogger(__name__)


@dataclass
class MetricsServer:
    """A running Prometheus exposition server, which ``stop`` shuts down."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_server(host: str, port: int) -> MetricsServer:
    """Serve the default registry on ``http://host:port/metrics`` from a daemon thread."""
    try:
        server, thread = start_http_server(port, addr=host)
    except OSError as error:
        raise ConfigurationError(
            f"cannot serve /metrics on {host}:{port} ({error}); "
            "set LOYALTY_METRICS_PORT to a free port"
        ) from error
    metrics_server = MetricsServer(server, thread)
    logger.info("metrics served on http://%s:%d/metrics", host, metrics_server.port)
    return metrics_server
