"""Delivers due email jobs, retrying temporary failures with exponential backoff.

Each job is sent inside the transaction that locked it, and marked in the same
transaction. A crash between the server accepting the message and the commit
leaves the job pending, so it is sent again. That window is the only source of
a duplicate, and both copies carry the same Message-ID, derived from the event
id. A removal that arrives while a job is being sent waits for the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from email.message import EmailMessage
from typing import Protocol

import asyncpg

from services.common.db import Connection
from services.notifier.content import EmailRenderer, build_message
from services.notifier.jobs import EmailJob, claim_due_job, mark_failed, mark_retry, mark_sent
from services.notifier.settings import NotifierSettings
from services.notifier.telemetry import (
    ATTEMPTS_EXHAUSTED,
    REJECTED,
    award_trace,
    smtp_send_span,
)
from services.notifier.transport import PermanentDeliveryError, TemporaryDeliveryError
from services.telemetry.instruments import instruments

logger = logging.getLogger(__name__)

_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")

# Delays after an error outside SMTP (such as a lost database connection), in seconds.
ERROR_DELAYS_SECONDS = (0.5, 1.0, 2.0, 5.0)


class Transport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def retry_delay(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """Return the wait after the ``attempts``-th failed attempt: base, 2 x base, 4 x base, ..."""
    return float(min(base_seconds * 2 ** (attempts - 1), max_seconds))


class EmailSender:
    """Workers that claim due jobs, send them and record the result."""

    def __init__(
        self, settings: NotifierSettings, pool: asyncpg.Pool, transport: Transport
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._transport = transport
        self._renderer = EmailRenderer()
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Look for due jobs now instead of at the next poll."""
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Run ``email_send_concurrency`` workers until ``stop`` is set."""
        workers = [
            asyncio.create_task(self._work(stop), name=f"email-sender-{number}")
            for number in range(self._settings.email_send_concurrency)
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()

    async def _work(self, stop: asyncio.Event) -> None:
        errors = 0
        while not stop.is_set():
            try:
                handled = await self.send_next()
                errors = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                errors += 1
                delay = ERROR_DELAYS_SECONDS[min(errors, len(ERROR_DELAYS_SECONDS)) - 1]
                logger.exception("email sender failed; retrying in %.1f s", delay)
                await _wait_any(stop, None, delay)
                continue
            if not handled:
                self._wakeup.clear()
                await _wait_any(stop, self._wakeup, self._settings.email_poll_interval_seconds)

    async def send_next(self) -> bool:
        """Send the job due first, if any; return whether there was one."""
        async with self._pool.acquire() as connection, connection.transaction():
            job = await claim_due_job(connection)
            if job is None:
                return False
            message = build_message(
                job,
                self._renderer.render(job),
                self._settings.smtp_sender,
                self._settings.sender_domain,
            )
            parent = await award_trace(connection, job.event_id)
            try:
                with smtp_send_span(self._settings, job.event_id, job.attempts + 1, parent):
                    await self._transport.send(message)
            except TemporaryDeliveryError as error:
                await self._record_temporary_failure(connection, job, error.reason)
            except PermanentDeliveryError as error:
                await mark_failed(connection, job.event_id, error.reason)
                instruments().emails_failed.add(1, {"error_type": REJECTED})
                logger.error(
                    "email rejected permanently",
                    extra={
                        **_ids(job),
                        "attempt": job.attempts + 1,
                        "reason": redact_addresses(error.reason),
                    },
                )
            else:
                await mark_sent(connection, job.event_id)
                instruments().emails_sent.add(1)
                logger.info("email sent", extra={**_ids(job), "attempt": job.attempts + 1})
        return True

    async def _record_temporary_failure(
        self, connection: Connection, job: EmailJob, reason: str
    ) -> None:
        attempt = job.attempts + 1
        if attempt >= self._settings.email_max_attempts:
            final = f"gave up after {attempt} attempts; last error: {reason}"
            await mark_failed(connection, job.event_id, final)
            instruments().emails_failed.add(1, {"error_type": ATTEMPTS_EXHAUSTED})
            logger.error(
                "email failed",
                extra={**_ids(job), "attempt": attempt, "reason": redact_addresses(final)},
            )
            return
        delay = retry_delay(
            attempt,
            self._settings.email_retry_base_seconds,
            self._settings.email_retry_max_seconds,
        )
        await mark_retry(connection, job.event_id, reason, delay)
        instruments().emails_retried.add(1)
        logger.warning(
            "email delivery failed temporarily; retrying in %.1f s",
            delay,
            extra={**_ids(job), "attempt": attempt, "reason": redact_addresses(reason)},
        )


def redact_addresses(text: str) -> str:
    """Return ``text`` with email addresses replaced, for log lines.

    SMTP replies often quote the recipient, such as ``550 <anna@example.com>: unknown``.
    """
    return _ADDRESS.sub("<address>", text)


def _ids(job: EmailJob) -> dict[str, str]:
    # Ids only: addresses and names stay out of the logs.
    return {"event_id": str(job.event_id), "merchant_id": job.merchant_id, "order_id": job.order_id}


async def _wait_any(stop: asyncio.Event, wakeup: asyncio.Event | None, seconds: float) -> None:
    """Wait ``seconds``, or less when ``stop`` or ``wakeup`` is set."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wakeup is not None:
        waiters.append(asyncio.ensure_future(wakeup.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
