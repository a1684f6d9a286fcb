"""Run the notifier: ``python -m services.notifier``."""

from __future__ import annotations

import asyncio

from services.common.logs import configure_logging
from services.notifier.consumer import NotifierService
from services.notifier.settings import NotifierSettings
from services.telemetry.runtime import consumer_telemetry
from services.telemetry.settings import TelemetrySettings


def main() -> None:
    settings = NotifierSettings()
    configure_logging(settings.log_level, settings.log_format)
    with consumer_telemetry(TelemetrySettings(), "loyalty-notifier"):
        asyncio.run(NotifierService(settings).app.run())


if __name__ == "__main__":
    main()
