"""Run the relay: ``python -m services.relay``."""

from __future__ import annotations

import asyncio
import logging
import signal

from services.common.db import create_pool
from services.common.logs import configure_logging
from services.relay.publisher import PointsPublisher
from services.relay.relay import Relay
from services.relay.settings import RelaySettings
from services.telemetry.runtime import consumer_telemetry
from services.telemetry.settings import TelemetrySettings

logger = logging.getLogger("services.relay")


async def serve(settings: RelaySettings) -> None:
    """Run the relay until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    pool = await create_pool(settings.database_url, max_size=1)
    publisher = PointsPublisher(settings)
    try:
        logger.info("relay %s started", settings.relay_name)
        await Relay(settings, pool, publisher).run(stop)
    finally:
        await publisher.stop()
        await pool.close()
        logger.info("relay %s stopped", settings.relay_name)


def main() -> None:
    settings = RelaySettings()
    configure_logging(settings.log_level, settings.log_format)
    with consumer_telemetry(TelemetrySettings(), "loyalty-relay"):
        asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
