"""The chaos run's email section: relay, notifier and SMTP sink, with the sink down a while.

It runs only when ``services.notifier`` exists. Every award (a PointsEarned event
that the notifier did not skip) must produce one email. The exception is an
award that a later removal took back in full before its email went out. The
notifier cancels that email, and the run checks that the award keeps no points.
A notifier killed after the SMTP server accepted an email but before it stored
that the email was sent sends it again on restart, so duplicates are counted and
explained, not failed.
"""

from __future__ import annotations

import asyncio
import email
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.devstack.chaos.processes import ServiceProcess
from services.devstack.ports import free_port, wait_for_port

# How long the SMTP sink stays down during the run.
SMTP_OUTAGE_SECONDS = 15.0


@dataclass
class EmailCount:
    awards: int = 0
    cancelled: int = 0
    cancelled_wrongly: int = 0
    delivered: int = 0
    duplicates: int = 0
    smtp_outages: int = 0

    @property
    def expected(self) -> int:
        """Awards that must have an email: not skipped and not taken back before sending."""
        return self.awards - self.cancelled

    @property
    def missing(self) -> int:
        return max(0, self.expected - self.delivered)


class EmailPipeline:
    """The relay, the notifier and an SMTP sink that writes each message to a file."""

    def __init__(self, environment: dict[str, str], logs: Path) -> None:
        self.maildir = logs / "mail"
        smtp_port = free_port()
        self.smtp_port = smtp_port
        email_environment = {
            **environment,
            "LOYALTY_SMTP_HOST": "127.0.0.1",
            "LOYALTY_SMTP_PORT": str(smtp_port),
            "LOYALTY_SMTP_STARTTLS": "false",
            "LOYALTY_EMAIL_RETRY_BASE_SECONDS": "1",
            "LOYALTY_EMAIL_RETRY_MAX_SECONDS": "5",
            "LOYALTY_EMAIL_MAX_ATTEMPTS": "1000",
            "LOYALTY_EMAIL_SEND_CONCURRENCY": "8",
        }
        self.sink = ServiceProcess(
            "smtp-sink",
            "services.devstack.smtp_sink",
            email_environment,
            logs,
            ("--port", str(smtp_port), "--directory", str(self.maildir)),
        )
        self.relay = ServiceProcess("relay", "services.relay", email_environment, logs)
        self.notifier = ServiceProcess("notifier", "services.notifier", email_environment, logs)
        self.count = EmailCount()
        self._parsed: dict[Path, str] = {}

    async def start(self) -> None:
        await self.sink.start()
        await asyncio.to_thread(wait_for_port, self.smtp_port, 30)
        await self.relay.start()
        await self.notifier.start()

    async def stop(self) -> None:
        for process in (self.notifier, self.relay, self.sink):
            await process.terminate(10)

    async def smtp_outage(self, stop: asyncio.Event, rng: random.Random) -> None:
        """Stop the SMTP sink once, a few seconds into the run, for SMTP_OUTAGE_SECONDS."""
        try:
            await asyncio.wait_for(stop.wait(), rng.uniform(3.0, 10.0))
            return
        except TimeoutError:
            pass
        await self.sink.terminate(5)
        self.count.smtp_outages += 1
        await asyncio.sleep(SMTP_OUTAGE_SECONDS)
        await self.sink.start()

    async def wait_delivered(self, database_url: str, wait_seconds: float) -> EmailCount:
        """Wait until every award that is not skipped has an email; return the counts."""
        deadline = time.monotonic() + wait_seconds
        while True:
            await _count_awards(database_url, self.count)
            messages = await asyncio.to_thread(_message_ids, self.maildir, self._parsed)
            self.count.delivered = len(messages)
            self.count.duplicates = sum(messages.values()) - len(messages)
            if self.count.delivered >= self.count.expected or time.monotonic() > deadline:
                return self.count
            await asyncio.sleep(1.0)


async def _count_awards(database_url: str, count: EmailCount) -> None:
    """Count the awards to email, the cancelled emails and those cancelled wrongly.

    A cancellation is wrong when the award still has points left after its removals.
    """
    connection = await asyncpg.connect(database_url)
    try:
        awards = await connection.fetchval(
            "SELECT count(*) FROM events WHERE event_type = 'PointsEarned'"
        )
        skipped = await connection.fetchval("SELECT count(*) FROM email_skips")
        cancelled = await connection.fetchrow(
            """
            SELECT count(*) AS cancelled,
                   count(*) FILTER (WHERE kept.points > 0) AS wrongly
            FROM email_jobs j
            JOIN LATERAL (
                SELECT (earned.data ->> 'points')::bigint - coalesce(sum(
                    (removed.data ->> 'points')::bigint), 0) AS points
                FROM events earned
                LEFT JOIN events removed
                  ON removed.event_type = 'PointsRemoved'
                 AND removed.data ->> 'award_event_id' = earned.event_id::text
                WHERE earned.event_id = j.event_id
                GROUP BY earned.data
            ) kept ON true
            WHERE j.status = 'cancelled'
            """
        )
    finally:
        await connection.close()
    assert cancelled is not None  # an aggregate without GROUP BY returns one row
    count.awards = int(awards) - int(skipped)
    count.cancelled = int(cancelled["cancelled"])
    count.cancelled_wrongly = int(cancelled["wrongly"])


def _message_ids(maildir: Path, parsed: dict[Path, str]) -> Counter[str]:
    """Return how often each Message-ID was delivered to ``maildir``; ``parsed`` caches files."""
    if maildir.is_dir():
        for path in maildir.glob("*.eml"):
            if path not in parsed:
                message = email.message_from_bytes(path.read_bytes())
                parsed[path] = str(message["Message-ID"])
    return Counter(parsed.values())
