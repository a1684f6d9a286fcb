"""The rewarding consumer's process lifecycle: start with retries, stop on SIGTERM.

Start-up waits for PostgreSQL and the broker with a capped exponential backoff,
so the consumer can start before them. On SIGTERM or SIGINT the in-flight batch
gets 70% of ``LOYALTY_SHUTDOWN_TIMEOUT_SECONDS`` to finish. After that it is
cancelled, which rolls its transaction back, and the process exits with status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiokafka.client import AIOKafkaClient

from services.common.settings import RewardingSettings
from services.rewarding.consumer import RewardingService
from services.rewarding.failures import Backoff, is_transient

logger = logging.getLogger(__name__)


async def serve(settings: RewardingSettings) -> None:
    """Run the consumer until SIGTERM or SIGINT."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    service = await start_with_retries(settings, stopping)
    if service is None:
        logger.info("stopped before the consumer could start")
        return
    await stopping.wait()
    logger.info("stopping; the in-flight batch has %.1f s", settings.shutdown_timeout_seconds)
    try:
        async with asyncio.timeout(settings.shutdown_timeout_seconds):
            await service.app.stop()
    except TimeoutError:
        # Whatever is still running is cancelled when the event loop closes;
        # an unfinished transaction rolls back, so nothing partial is stored.
        logger.warning("shutdown timed out after %.1f s", settings.shutdown_timeout_seconds)
    logger.info("rewarding consumer stopped")


async def start_with_retries(
    settings: RewardingSettings, stopping: asyncio.Event
) -> RewardingService | None:
    """Return a started service, retrying while PostgreSQL or the broker is unreachable.

    Returns None when ``stopping`` is set before the service started.
    """
    backoff = Backoff(initial=0.5, maximum=10.0)
    while not stopping.is_set():
        service: RewardingService | None = None
        try:
            # A failed start leaves FastStream's producer unclosed, so the broker is
            # probed first with a client that this function closes itself.
            await _probe_broker(settings)
            service = RewardingService(settings)
            await service.app.start()
        except Exception as error:
            if not is_transient(error):
                raise
            if service is not None:
                with contextlib.suppress(Exception):
                    await service.app.stop()
            delay = backoff.next_delay()
            logger.warning(
                "start failed (%s: %s); retrying in %.1f s", type(error).__name__, error, delay
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            continue
        logger.info("rewarding consumer started", extra={"group_id": settings.rewarding_group_id})
        return service
    return None


async def _probe_broker(settings: RewardingSettings) -> None:
    client = AIOKafkaClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )
    try:
        await client.bootstrap()
    finally:
        await client.close()
