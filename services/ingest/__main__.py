"""Run the HTTP service: ``python -m services.ingest``."""

from __future__ import annotations

import uvicorn

from services.common.logs import configure_logging
from services.common.settings import IngestSettings
from services.ingest.app import create_app
from services.telemetry.providers import configure_telemetry
from services.telemetry.settings import TelemetrySettings


def main() -> None:
    settings = IngestSettings()
    configure_logging(settings.log_level, settings.log_format)
    telemetry = configure_telemetry(TelemetrySettings(), "loyalty-ingest")
    uvicorn.run(
        create_app(settings, telemetry),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
