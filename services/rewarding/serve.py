"""The rewarding consumer's process lifecycle: start with retries, stop on SIGTERM.

Start-up waits for PostgreSQL and the broker with a capped exponential backoff,
so the consumer can start before them. On SIGTERM or SIGINT the in-flight batch
gets 70% of ``LOYALTY_SHUTDOWN_TIMEOUT_SECONDS`` to finish. After that it is
cancelled, which rolls its transaction back. The process exits with status 0
within the timeout, even when the broker or a task does not stop in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading

from aiokafka.client import AIOKafkaClient

from services.common.settings import RewardingSettings
from services.rewarding.consumer import RewardingService
from services.rewarding.failures import Backoff, is_transient

logger = logging.getLogger(__name__)

# Share of LOYALTY_SHUTDOWN_TIMEOUT_SECONDS for stopping the broker client and the pool;
# the process exits when the whole timeout has passed, whatever is still running.
STOP_SHARE_OF_SHUTDOWN = 0.9


async def serve(settings: RewardingSettings) -> None:
    """Run the consumer until SIGTERM or SIGINT."""
    timeout = settings.shutdown_timeout_seconds
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _begin_shutdown, stopping, timeout)

    starting = asyncio.create_task(start_with_retries(settings, stopping))
    await asyncio.wait(
        [starting, asyncio.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if not starting.done():
        starting.cancel()
        logger.info("stopped before the consumer could start")
        return
    service = starting.result()
    if service is None:
        logger.info("stopped before the consumer could start")
        return

    # Move the start-up objects (modules, schemas, clients) out of the garbage
    # collector's reach, so full collections during batches skip them. Reference
    # counting still frees frozen objects, but a cycle among them is never collected.
    gc.collect()
    gc.freeze()

    await stopping.wait()
    logger.info("stopping within %.1f s", timeout)
    try:
        async with asyncio.timeout(timeout * STOP_SHARE_OF_SHUTDOWN):
            await service.app.stop()
    except TimeoutError:
        # Whatever is still running is cancelled when the event loop closes;
        # an unfinished transaction rolls back, so nothing partial is stored.
        logger.warning("stopping the consumer timed out; cancelling what is left")
    logger.info("rewarding consumer shut down")


def _begin_shutdown(stopping: asyncio.Event, timeout: float) -> None:
    if stopping.is_set():
        return
    stopping.set()
    watchdog = threading.Timer(timeout, _exit_now, args=(timeout,))
    watchdog.daemon = True
    watchdog.start()


def _exit_now(timeout: float) -> None:
    # Runs in a thread, so it fires even when a task ignores cancellation or the
    # broker does not respond. Every committed batch is complete and an open
    # transaction rolls back when its connection closes, so exiting is safe.
    logger.error("shutdown did not finish within %.1f s; exiting without waiting", timeout)
    logging.shutdown()
    os._exit(0)


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
