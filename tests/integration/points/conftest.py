"""Fixtures for the relay and the notifier: an own database per test, the SMTP server,
the relay and the notifier running in the test's event loop.

Relay and notifier read every row of their database, so each test gets a fresh
database instead of sharing the session's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from schemas.orders import Amounts, Customer, OrderStatusChanged, PaymentStatus
from services.common.db import create_pool
from services.common.records import DeadLetter, InboundRecord
from services.common.settings import CommonSettings
from services.devstack.database import drop_database, recreate_database, with_database
from services.merchant_settings.rules_source import StoredSettingsRulesSource
from services.merchant_settings.store import change_settings
from services.notifier.consumer import NotifierService
from services.notifier.settings import NotifierSettings
from services.relay.publisher import PointsPublisher
from services.relay.relay import Relay
from services.relay.settings import RelaySettings
from services.rewarding.processor import BatchProcessor
from services.store import migrate
from services.store.merchants import Merchant, add_merchant
from tests.conftest import SERVER_URL
from tests.support.smtp import SmtpServer

T0 = datetime(2026, 11, 3, 13, 0, tzinfo=UTC)


@pytest.fixture
def own_database_url() -> Iterator[str]:
    url = with_database(SERVER_URL, f"loyalty_points_{uuid.uuid4().hex[:12]}")
    asyncio.run(recreate_database(url))
    migrate.upgrade(url)
    yield url
    asyncio.run(drop_database(url))


@pytest.fixture
async def own_pool(own_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(own_database_url, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def relay_settings(settings: CommonSettings, own_database_url: str) -> RelaySettings:
    return RelaySettings(
        **{**settings.model_dump(), "database_url": own_database_url},
        relay_poll_interval_seconds=0.05,
        relay_batch_size=50,
    )


@pytest.fixture
def notifier_settings(
    settings: CommonSettings, own_database_url: str, smtp_server: SmtpServer, unique: str
) -> NotifierSettings:
    return NotifierSettings(
        **{**settings.model_dump(), "database_url": own_database_url},
        notifier_group_id=f"notifier-{unique}",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_starttls=False,
        smtp_sender="points@shop.test",
        smtp_timeout_seconds=5,
        email_retry_base_seconds=0.5,
        email_retry_max_seconds=4,
        email_max_attempts=30,
        email_send_concurrency=1,
        email_poll_interval_seconds=0.2,
    )


class RunningRelay:
    """A relay task in the test's event loop."""

    def __init__(self, settings: RelaySettings, *, start_publisher: bool = True) -> None:
        self.settings = settings
        self._start_publisher = start_publisher
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pool: asyncpg.Pool | None = None
        self._publisher: PointsPublisher | None = None

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self._pool = await create_pool(self.settings.database_url, max_size=1)
        self._publisher = PointsPublisher(self.settings)
        if self._start_publisher:
            await self._publisher.start()
        relay = Relay(self.settings, self._pool, self._publisher)
        self._task = asyncio.create_task(relay.run(self._stop))

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 20)
            self._task = None
        if self._publisher is not None:
            await self._publisher.stop()
            self._publisher = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


@pytest.fixture
async def relay(relay_settings: RelaySettings) -> AsyncIterator[RunningRelay]:
    running = RunningRelay(relay_settings)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def notifier(notifier_settings: NotifierSettings) -> AsyncIterator[NotifierService]:
    service = NotifierService(notifier_settings)
    await service.app.start()
    yield service
    with contextlib.suppress(Exception):
        await service.app.stop()


class Shop:
    """A registered merchant in the test's database that takes orders through the decider."""

    def __init__(self, pool: asyncpg.Pool, merchant_id: str, name: str) -> None:
        self.pool = pool
        self.merchant_id = merchant_id
        self.name = name
        self._offsets = itertools.count()
        self._processor = BatchProcessor(
            pool, f"orders-{merchant_id}", StoredSettingsRulesSource(), self._no_dead_letters
        )

    @staticmethod
    async def _no_dead_letters(letters: list[DeadLetter]) -> None:
        raise AssertionError(f"unexpected dead letters: {letters}")

    async def order(
        self,
        order_id: str,
        status: str,
        total: str,
        *,
        customer: str = "501",
        email: str | None = "jane@example.com",
        language: str | None = "en",
        first_name: str | None = "Jane",
        minutes: int = 0,
    ) -> None:
        """Apply one order status change as the rewarding consumer would."""
        occurred = T0 + timedelta(minutes=minutes)
        event = OrderStatusChanged(
            event_id=uuid.uuid4(),
            merchant_id=self.merchant_id,
            source="test",
            order_id=order_id,
            order_number=f"ORD{order_id}",
            customer=Customer(
                key=customer,
                platform_id=customer,
                email=email,
                first_name=first_name,
                language=language,
            ),
            payment_status=PaymentStatus(status),
            order_status="processing",
            amounts=Amounts(
                currency="EUR",
                total_incl=Decimal(total),
                total_excl=Decimal(total),
                shipping_incl=Decimal(0),
                shipping_excl=Decimal(0),
            ),
            occurred_at=occurred,
            received_at=occurred,
        )
        record = InboundRecord(
            f"orders-{self.merchant_id}",
            0,
            next(self._offsets),
            b"k",
            event.model_dump_json().encode(),
        )
        await self._processor.process([record])

    async def configure(self, **changes: Any) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            await change_settings(
                connection, self.merchant_id, changes, actor="test", changed_at=datetime.now(UTC)
            )


@pytest.fixture
async def merchant(own_pool: asyncpg.Pool, unique: str) -> Shop:
    merchant_id = f"ls-eu1-{int(unique[:7], 16)}"
    name = "Fietsen & Zo <Amsterdam>"
    await add_merchant(
        own_pool, Merchant(merchant_id, "eu1", int(unique[:7], 16), "secret", name, "EUR")
    )
    return Shop(own_pool, merchant_id, name)


async def jobs(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM email_jobs ORDER BY created_at, event_id"))
