"""Run the rewarding consumer: ``python -m services.rewarding``."""

from __future__ import annotations

import asyncio

from services.common.logs import configure_logging
from services.common.settings import RewardingSettings
from services.rewarding.serve import serve
from services.telemetry.runtime import consumer_telemetry
from services.telemetry.settings import TelemetrySettings


def main() -> None:
    settings = RewardingSettings()
    configure_logging(settings.log_level, settings.log_format)
    with consumer_telemetry(TelemetrySettings(), "loyalty-rewarding"):
        asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
