"""The sender against an SMTP server that fails: 451, 550, refused connections, a SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.devstack.ports import free_port
from services.devstack.tansu import TANSU_CLIENT_ENVIRONMENT
from services.notifier.consumer import NotifierService
from services.notifier.settings import NotifierSettings
from tests.integration.points.conftest import RunningRelay, Shop, jobs
from tests.support.kafka import wait_until
from tests.support.smtp import ACCEPT, NO_SUCH_USER, TRY_AGAIN, SmtpServer

pytestmark = pytest.mark.integration

# How long the server replies 451 before it accepts again.
TEMPORARY_FAILURE_SECONDS = 30


async def statuses(pool: asyncpg.Pool) -> Counter[str]:
    return Counter(row["status"] for row in await jobs(pool))


async def jobs_in(pool: asyncpg.Pool, status: str, count: int) -> bool:
    return (await statuses(pool))[status] >= count


async def test_451_then_accept_delivers_each_once(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    notifier: NotifierService,
    smtp_server: SmtpServer,
) -> None:
    smtp_server.handler.answer_with(TRY_AGAIN)
    for number in range(3):
        await merchant.order(f"45{number}", "paid", "10.00", customer=f"45{number}")
    started = time.monotonic()

    await wait_until(lambda: jobs_in(own_pool, "pending", 3), timeout=20)
    await asyncio.sleep(max(0.0, TEMPORARY_FAILURE_SECONDS - (time.monotonic() - started)))
    refused = smtp_server.handler.attempts
    smtp_server.handler.answer_with(ACCEPT)
    await wait_until(lambda: jobs_in(own_pool, "sent", 3), timeout=30)
    await asyncio.sleep(1.0)

    message_ids = [message.message_id for message in smtp_server.handler.messages()]
    rows = await jobs(own_pool)
    assert refused >= 6
    assert sorted(message_ids) == sorted(f"<earned.{row['event_id']}@shop.test>" for row in rows)
    assert len(set(message_ids)) == 3
    assert all(row["attempts"] >= 3 for row in rows)
    assert {row["status"] for row in rows} == {"sent"}


async def test_550_fails_job_without_retry(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    notifier: NotifierService,
    smtp_server: SmtpServer,
) -> None:
    smtp_server.handler.answer_with(NO_SUCH_USER)
    await merchant.order("550", "paid", "10.00")

    await wait_until(lambda: jobs_in(own_pool, "failed", 1), timeout=20)
    await asyncio.sleep(2.0)

    [row] = await jobs(own_pool)
    assert row["status"] == "failed"
    assert row["attempts"] == 1
    assert row["last_error"] == NO_SUCH_USER
    assert smtp_server.handler.attempts == 1
    assert smtp_server.handler.messages() == []


async def test_temporary_failures_give_up_at_max_attempts(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    notifier_settings: NotifierSettings,
    smtp_server: SmtpServer,
) -> None:
    smtp_server.handler.answer_with(TRY_AGAIN)
    service = NotifierService(
        notifier_settings.model_copy(
            update={"email_max_attempts": 3, "email_retry_base_seconds": 0.2}
        )
    )
    await service.app.start()
    try:
        await merchant.order("452", "paid", "10.00")
        await wait_until(lambda: jobs_in(own_pool, "failed", 1), timeout=20)
    finally:
        await service.app.stop()

    [row] = await jobs(own_pool)
    assert row["attempts"] == 3
    assert row["last_error"] == f"gave up after 3 attempts; last error: {TRY_AGAIN}"
    assert smtp_server.handler.attempts == 3


async def test_refused_connection_retried_until_server_up(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    notifier_settings: NotifierSettings,
) -> None:
    port = free_port()
    service = NotifierService(notifier_settings.model_copy(update={"smtp_port": port}))
    await service.app.start()
    server = SmtpServer(port)
    try:
        await merchant.order("111", "paid", "10.00")
        await wait_until(
            lambda: own_pool.fetchval("SELECT attempts >= 2 FROM email_jobs"), timeout=20
        )
        server.start()
        await wait_until(lambda: jobs_in(own_pool, "sent", 1), timeout=20)
    finally:
        await service.app.stop()
        server.stop()

    [row] = await jobs(own_pool)
    assert row["attempts"] >= 3
    assert len(server.handler.messages()) == 1


def notifier_process(settings: NotifierSettings, log: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        **TANSU_CLIENT_ENVIRONMENT,
        "LOYALTY_DATABASE_URL": settings.database_url,
        "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "LOYALTY_POINTS_TOPIC": settings.points_topic,
        "LOYALTY_NOTIFIER_GROUP_ID": settings.notifier_group_id,
        "LOYALTY_SMTP_HOST": settings.smtp_host,
        "LOYALTY_SMTP_PORT": str(settings.smtp_port),
        "LOYALTY_SMTP_STARTTLS": "false",
        "LOYALTY_SMTP_SENDER": settings.smtp_sender,
        "LOYALTY_EMAIL_SEND_CONCURRENCY": "1",
        "LOYALTY_EMAIL_POLL_INTERVAL_SECONDS": "0.2",
        "LOYALTY_EMAIL_RETRY_BASE_SECONDS": "0.5",
        "LOYALTY_LOG_FORMAT": "text",
    }
    with open(log, "ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "services.notifier"],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def test_sigkill_while_sending_loses_nothing(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    notifier_settings: NotifierSettings,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    # The server stores each message, then delays its 250 reply:
    # a kill in that window leaves a message the server has and the job unsent.
    smtp_server.handler.accept_delay = 1.5
    for number in range(5):
        await merchant.order(f"9{number}", "paid", "10.00", customer=f"9{number}")
    first = notifier_process(notifier_settings, tmp_path / "notifier-1.log")
    try:
        await wait_until(lambda: _received(smtp_server, 2), timeout=40)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    in_flight = smtp_server.handler.messages()[-1].message_id
    before_restart = await statuses(own_pool)

    smtp_server.handler.accept_delay = 0.0
    second = notifier_process(notifier_settings, tmp_path / "notifier-2.log")
    try:
        await wait_until(lambda: jobs_in(own_pool, "sent", 5), timeout=60)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(20)
        except subprocess.TimeoutExpired:
            second.kill()
            second.wait(10)

    rows = await jobs(own_pool)
    expected = {f"<earned.{row['event_id']}@shop.test>" for row in rows}
    received = Counter(message.message_id for message in smtp_server.handler.messages())
    duplicates = {message_id: count for message_id, count in received.items() if count > 1}
    assert first.returncode == -signal.SIGKILL
    assert before_restart == Counter({"sent": 1, "pending": 4})
    assert set(received) == expected
    # The one message the server had when the process died is the only duplicate.
    assert duplicates == {in_flight: 2}


async def _received(server: SmtpServer, count: int) -> bool:
    return len(server.handler.messages()) >= count


async def test_failed_email_requeued_from_cli(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    notifier: NotifierService,
    smtp_server: SmtpServer,
    own_database_url: str,
) -> None:
    smtp_server.handler.answer_with(NO_SUCH_USER)
    await merchant.order("551", "paid", "10.00")
    await wait_until(lambda: jobs_in(own_pool, "failed", 1), timeout=20)
    [failed] = await jobs(own_pool)
    smtp_server.handler.answer_with(ACCEPT)
    environment = {"LOYALTY_DATABASE_URL": own_database_url}

    retried = await asyncio.to_thread(
        CliRunner().invoke, app, ["emails", "retry", str(failed["event_id"])], env=environment
    )
    await wait_until(lambda: jobs_in(own_pool, "sent", 1), timeout=20)
    again = await asyncio.to_thread(
        CliRunner().invoke, app, ["emails", "retry", str(failed["event_id"])], env=environment
    )
    status = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["emails", "status", "--merchant", merchant.merchant_id],
        env=environment,
    )

    assert retried.exit_code == 0, retried.output
    assert "queued again" in retried.output
    assert again.exit_code == 1
    assert "is sent, not failed" in " ".join(again.output.split())
    assert status.exit_code == 0, status.output
    rows = {tuple(line.replace("│", " ").split()) for line in status.output.splitlines()}
    assert ("sent", "1") in rows
    assert ("failed", "0") in rows
    assert len(smtp_server.handler.messages()) == 1
