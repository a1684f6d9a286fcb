"""Earned-points emails end to end: store, relay, Kafka, notifier, a real SMTP server."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from services.common.settings import CommonSettings
from services.notifier.consumer import NotifierService
from tests.integration.points.conftest import RunningRelay, Shop, jobs
from tests.support.kafka import read_topic, wait_until
from tests.support.smtp import ReceivedMessage, SmtpServer

pytestmark = pytest.mark.integration


async def emails_when(server: SmtpServer, count: int, timeout: float = 30) -> list[ReceivedMessage]:
    async def enough() -> list[ReceivedMessage] | None:
        messages = server.handler.messages()
        return messages if len(messages) >= count else None

    result: list[ReceivedMessage] = await wait_until(enough, timeout=timeout)
    return result


async def no_pending_jobs(pool: asyncpg.Pool) -> bool:
    pending = await pool.fetchval("SELECT count(*) FROM email_jobs WHERE status = 'pending'")
    return pending == 0


async def test_each_award_gets_one_email(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    notifier: NotifierService,
    smtp_server: SmtpServer,
) -> None:
    await merchant.order("1", "paid", "42.50", customer="501", language="nl", first_name="Anna")
    await merchant.order("2", "paid", "10.00", customer="502", email="ben@example.com")
    await merchant.order("3", "paid", "20.00", customer="502", email="ben@example.com")
    await merchant.order("4", "paid", "7.00", customer="503", email="c@example.com", language="fr")

    messages = await emails_when(smtp_server, 4)
    await asyncio.sleep(1.0)

    assert len(smtp_server.handler.messages()) == 4
    by_order = {
        number: message
        for message in messages
        for number in ("ORD1", "ORD2", "ORD3", "ORD4")
        if f"{number} " in message.part("plain")
    }
    assert set(by_order) == {"ORD1", "ORD2", "ORD3", "ORD4"}
    dutch = by_order["ORD1"]
    assert dutch.recipients == ("jane@example.com",)
    assert dutch.message["Subject"] == "Je hebt 42 punten gespaard bij Fietsen & Zo <Amsterdam>"
    assert "Hoi Anna," in dutch.part("plain")
    assert "Je puntensaldo is nu 42." in dutch.part("plain")
    assert "Fietsen &amp; Zo &lt;Amsterdam&gt;" in dutch.part("html")
    assert "<Amsterdam>" not in dutch.part("html")
    assert dutch.message["Content-Language"] == "nl"
    assert "Your points balance is now 10." in by_order["ORD2"].part("plain")
    assert "Your points balance is now 30." in by_order["ORD3"].part("plain")
    assert "You earned 20 points" in by_order["ORD3"].part("plain")
    assert by_order["ORD4"].message["Subject"].startswith("You earned 7 points")
    rows = await jobs(own_pool)
    assert {f"<earned.{row['event_id']}@shop.test>" for row in rows} == {
        message.message_id for message in messages
    }
    assert {row["status"] for row in rows} == {"sent"}


async def test_removal_sends_nothing(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    notifier: NotifierService,
    smtp_server: SmtpServer,
) -> None:
    await merchant.order("5", "paid", "30.00")
    await emails_when(smtp_server, 1)

    await merchant.order("5", "cancelled", "30.00", minutes=5)
    await wait_until(
        lambda: own_pool.fetchval(
            "SELECT count(*) = 1 FROM events WHERE event_type = 'PointsRemoved'"
        )
    )
    await asyncio.sleep(2.0)

    assert len(smtp_server.handler.messages()) == 1
    assert [row["status"] for row in await jobs(own_pool)] == ["sent"]


async def test_award_removed_in_hold_window_sends_nothing(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    notifier: NotifierService,
    smtp_server: SmtpServer,
) -> None:
    await merchant.configure(earned_email_delay_seconds=3)
    started = time.monotonic()
    await merchant.order("6", "paid", "50.00", customer="601", email="kept@example.com")
    await merchant.order("7", "paid", "60.00", customer="602", email="gone@example.com")
    await merchant.order("7", "cancelled", "60.00", customer="602", email="gone@example.com")

    messages = await emails_when(smtp_server, 1, timeout=20)
    waited = time.monotonic() - started
    await wait_until(lambda: no_pending_jobs(own_pool))
    await asyncio.sleep(1.0)

    assert waited >= 2.5
    assert [m.recipients for m in smtp_server.handler.messages()] == [("kept@example.com",)]
    assert "ORD6" in messages[0].part("plain")
    statuses = {row["order_id"]: row["status"] for row in await jobs(own_pool)}
    assert statuses == {"6": "sent", "7": "cancelled"}


async def test_no_email_and_disabled_are_counted(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    notifier: NotifierService,
    smtp_server: SmtpServer,
) -> None:
    await merchant.order("8", "paid", "15.00", customer="801", email=None)
    await merchant.order("9", "paid", "16.00", customer="802", email="   ")
    await merchant.configure(earned_email_enabled=False)
    await merchant.order("10", "paid", "17.00", customer="803", email="off@example.com")

    skips = await wait_until(
        lambda: (
            own_pool.fetch("SELECT reason FROM email_skips HAVING count(*) = 3")
            if False
            else _skips_when(own_pool, 3)
        )
    )

    assert sorted(skips) == ["disabled", "no_email", "no_email"]
    assert await jobs(own_pool) == []
    assert smtp_server.handler.messages() == []


async def _skips_when(pool: asyncpg.Pool, count: int) -> list[str] | None:
    rows = await pool.fetch("SELECT reason FROM email_skips")
    return [row["reason"] for row in rows] if len(rows) >= count else None


async def test_same_event_three_times_one_email(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    notifier: NotifierService,
    smtp_server: SmtpServer,
    settings: CommonSettings,
) -> None:
    await merchant.order("11", "paid", "25.00")
    [original] = await read_topic(
        settings.kafka_bootstrap_servers, settings.points_topic, until_count=1, timeout=15
    )

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for _ in range(2):
            await producer.send_and_wait(
                settings.points_topic,
                value=original.value,
                key=original.key,
                headers=list(original.headers),
            )
    finally:
        await producer.stop()
    published = await read_topic(
        settings.kafka_bootstrap_servers, settings.points_topic, until_count=3, timeout=15
    )
    await wait_until(
        lambda: own_pool.fetchval(
            "SELECT sum(next_offset) >= 3 FROM consumer_offsets WHERE group_id = $1",
            notifier.settings.notifier_group_id,
        )
    )
    await emails_when(smtp_server, 1)
    await asyncio.sleep(1.0)

    assert len(published) == 3
    assert len(smtp_server.handler.messages()) == 1
    assert len(await jobs(own_pool)) == 1


async def test_invalid_points_record_dead_lettered(
    merchant: Shop,
    relay: RunningRelay,
    notifier: NotifierService,
    smtp_server: SmtpServer,
    settings: CommonSettings,
) -> None:
    # Same key as the relay's record for customer 501, so both land in one partition.
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.points_topic,
            value=b'{"schema_version": 1, "position": "first"}',
            key=f"{merchant.merchant_id}:501".encode(),
        )
    finally:
        await producer.stop()

    await merchant.order("12", "paid", "12.00", customer="501")
    dead = await read_topic(
        settings.kafka_bootstrap_servers, settings.points_dlq_topic, until_count=1, timeout=15
    )
    messages = await emails_when(smtp_server, 1)

    assert len(dead) == 1
    headers = {key: value.decode() for key, value in dead[0].headers}
    assert headers["dlq-error-type"] == "ValidationError"
    assert "position" in headers["dlq-reason"]
    assert headers["dlq-original-topic"] == settings.points_topic
    assert "ORD12" in messages[0].part("plain")
