"""The demo's emails: the hold window it sets, and the messages the SMTP sink stored."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

from services.common.db import create_pool
from services.merchant_settings.store import change_settings

# Long enough for the cancellation of order 1003, posted right after its payment,
# to reach the notifier before the award's email is due.
DEMO_EMAIL_DELAY_SECONDS = 5

# Recipient and order number of each email the demo must produce, one per award
# that was not taken back within the hold window.
EXPECTED_EMAILS: set[tuple[str, str]] = {
    ("anna@example.com", "ORD01001"),
    ("ben@example.com", "ORD01002"),
    ("chris@example.com", "ORD01004"),
    ("dana@example.com", "ORD01005"),
}


@dataclass(frozen=True)
class ReceivedEmail:
    recipient: str
    subject: str
    message_id: str
    text: str


async def _set_delay(database_url: str, merchant_id: str) -> None:
    pool = await create_pool(database_url, max_size=1)
    try:
        async with pool.acquire() as connection, connection.transaction():
            await change_settings(
                connection,
                merchant_id,
                {"earned_email_delay_seconds": DEMO_EMAIL_DELAY_SECONDS},
                actor="demo",
                changed_at=datetime.now(UTC),
            )
    finally:
        await pool.close()


def set_email_delay(database_url: str, merchant_id: str) -> None:
    """Give the demo merchant a hold window of DEMO_EMAIL_DELAY_SECONDS."""
    asyncio.run(_set_delay(database_url, merchant_id))


def read_maildir(directory: Path) -> list[ReceivedEmail]:
    """Return the messages the SMTP sink stored in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    parser = BytesParser(policy=policy.default)
    emails = []
    for path in sorted(directory.glob("*.eml"), key=lambda item: item.stat().st_mtime):
        message = parser.parsebytes(path.read_bytes())
        body = message.get_body(preferencelist=("plain",))
        emails.append(
            ReceivedEmail(
                recipient=str(message["To"]),
                subject=str(message["Subject"]),
                message_id=str(message["Message-ID"]),
                text=body.get_content() if body is not None else "",
            )
        )
    return emails


def wait_for_emails(directory: Path, timeout: float = 60.0) -> list[ReceivedEmail]:
    """Poll the maildir until the expected number of emails arrived and the window passed.

    Waits at least the hold window plus a margin, so a cancelled email that was
    sent by mistake would show up too.
    """
    started = time.monotonic()
    deadline = started + timeout
    settle_until = started + DEMO_EMAIL_DELAY_SECONDS + 3
    while True:
        emails = read_maildir(directory)
        now = time.monotonic()
        if (len(emails) >= len(EXPECTED_EMAILS) and now >= settle_until) or now > deadline:
            return emails
        time.sleep(0.5)


def print_emails(emails: list[ReceivedEmail]) -> bool:
    """Print each received email; return whether they are exactly one per expected award."""
    print("\nemails received by the SMTP sink:")
    received: list[tuple[str, str]] = []
    for email in emails:
        order_number = next(
            (word.rstrip(".") for word in email.text.split() if word.startswith("ORD")), "?"
        )
        received.append((email.recipient.lower(), order_number))
        print(f"  to {email.recipient:<20} {email.subject}  ({email.message_id})")
    ok = sorted(received) == sorted(EXPECTED_EMAILS)
    if not ok:
        print(f"  MISMATCH: expected one email each for {sorted(EXPECTED_EMAILS)}")
    return ok
