"""Rendering of the earned-points email and the sender's pure helpers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.notifier.content import EmailRenderer, build_message, message_id
from services.notifier.jobs import EmailJob
from services.notifier.recipients import email_language
from services.notifier.sender import redact_addresses, retry_delay

EVENT_ID = uuid.UUID("0b7c2f8e-51a5-5d2c-9a0e-6f1d3c4b5a69")


def job(**changes: object) -> EmailJob:
    values: dict[str, object] = {
        "event_id": EVENT_ID,
        "merchant_id": "ls-eu1-1",
        "customer_key": "501",
        "order_id": "1001",
        "order_number": "ORD01001",
        "points": 42,
        "balance_after": 117,
        "recipient": "anna@example.com",
        "first_name": "Anna",
        "shop_name": "Bikes & <Co>",
        "language": "en",
        "due_at": datetime(2026, 12, 1, tzinfo=UTC),
    }
    values.update(changes)
    return EmailJob(**values)  # type: ignore[arg-type]


def test_english_text_part() -> None:
    rendered = EmailRenderer().render(job())

    assert rendered.subject == "You earned 42 points at Bikes & <Co>"
    assert "Hi Anna," in rendered.text
    assert "You earned 42 points with order ORD01001 at Bikes & <Co>." in rendered.text
    assert "Your points balance is now 117." in rendered.text


def test_dutch_parts() -> None:
    rendered = EmailRenderer().render(job(language="nl", first_name=None))

    assert rendered.subject == "Je hebt 42 punten gespaard bij Bikes & <Co>"
    assert rendered.text.startswith("Hallo,")
    assert "Je puntensaldo is nu <strong>117</strong>." in rendered.html


def test_html_escapes_names() -> None:
    rendered = EmailRenderer().render(job(first_name="<script>x</script>"))

    assert "&lt;script&gt;x&lt;/script&gt;" in rendered.html
    assert "<script>" not in rendered.html
    assert "Bikes &amp; &lt;Co&gt;" in rendered.html


def test_subject_stays_on_one_line() -> None:
    rendered = EmailRenderer().render(job(shop_name="Line\nBreak"))

    assert rendered.subject == "You earned 42 points at Line Break"


def test_message_has_both_parts_and_stable_id() -> None:
    message = build_message(job(), EmailRenderer().render(job()), "points@shop.test", "shop.test")

    assert message["Message-ID"] == f"<earned.{EVENT_ID}@shop.test>"
    assert message_id(job(attempts=3), "shop.test") == message["Message-ID"]
    assert message["To"] == "anna@example.com"
    assert message["From"] == '"Bikes & <Co>" <points@shop.test>'
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


@pytest.mark.parametrize(
    ("order_language", "customer_language", "expected"),
    [
        ("nl", "en", "nl"),
        ("NL", None, "nl"),
        ("fr", "nl", "en"),
        (None, "nl", "nl"),
        ("fr", None, "en"),
        (None, None, "en"),
    ],
)
def test_language_choice(
    order_language: str | None, customer_language: str | None, expected: str
) -> None:
    assert email_language(order_language, customer_language) == expected


def test_retry_delay_doubles_up_to_max() -> None:
    delays = [retry_delay(attempt, 5.0, 60.0) for attempt in range(1, 7)]

    assert delays == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


def test_log_reason_without_addresses() -> None:
    reason = "550 5.1.1 <anna.b@example.com>: Recipient address rejected; also x@y.nl"

    assert redact_addresses(reason) == (
        "550 5.1.1 <<address>>: Recipient address rejected; also <address>"
    )
