"""Fixtures that start the real components: Tansu, PostgreSQL databases, the services.

Every test run gets its own database, and every test its own topics and merchant,
so tests do not see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn

from services.common.kafka import create_topics
from services.common.settings import CommonSettings, IngestSettings, RewardingSettings
from services.devstack.database import drop_database, recreate_database, with_database
from services.devstack.lightspeed_fixtures import Shop
from services.devstack.ports import free_port
from services.devstack.tansu import TansuBroker, start_tansu
from services.ingest.app import create_app
from services.rewarding.consumer import RewardingService
from services.store import migrate
from services.store.merchants import Merchant, add_merchant
from tests.support.telemetry import CapturedTelemetry, install_captured_telemetry

SERVER_URL = os.environ.get(
    "LOYALTY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass(frozen=True)
class KafkaEndpoint:
    """A Kafka-protocol broker the tests talk to, and whether it supports idempotence."""

    bootstrap_servers: str
    idempotence: bool


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaEndpoint]:
    """Tansu on a free loopback port, or with LOYALTY_TEST_KAFKA=testcontainers a Kafka container."""
    if os.environ.get("LOYALTY_TEST_KAFKA") == "testcontainers":
        # NOTE: this path needs a Docker daemon and has not run on the machines without one.
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as container:
            yield KafkaEndpoint(container.get_bootstrap_server(), idempotence=True)
        return
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    broker: TansuBroker = start_tansu(free_port(), log)
    yield KafkaEndpoint(broker.bootstrap_servers, idempotence=False)
    broker.stop()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = with_database(SERVER_URL, f"loyalty_test_{uuid.uuid4().hex[:12]}")
    asyncio.run(recreate_database(url))
    migrate.upgrade(url)
    yield url
    asyncio.run(drop_database(url))


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    from services.common.db import create_pool

    pool = await create_pool(database_url, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def settings(kafka_broker: KafkaEndpoint, database_url: str, unique: str) -> CommonSettings:
    """Settings on fresh topics of this test."""
    settings = CommonSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_broker.bootstrap_servers,
        kafka_idempotence=kafka_broker.idempotence,
        kafka_transactions=kafka_broker.idempotence,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=500,
        orders_topic=f"orders.status-changed.v1.{unique}",
        orders_topic_partitions=3,
        points_topic=f"loyalty.points.v1.{unique}",
        points_topic_partitions=3,
        log_format="text",
    )
    await create_topics(settings)
    return settings


@pytest.fixture
async def shop(pool: asyncpg.Pool, unique: str) -> Shop:
    """A registered merchant with its own shop id."""
    shop = Shop(shop_id=int(unique[:7], 16), cluster_id="eu1", secret=f"secret-{unique}")
    await add_merchant(
        pool,
        Merchant(
            merchant_id=f"ls-eu1-{shop.shop_id}",
            cluster_id=shop.cluster_id,
            shop_id=shop.shop_id,
            webhook_secret=shop.secret,
            display_name=f"Test Shop {unique}",
            base_currency="EUR",
        ),
    )
    return shop


def merchant_id_of(shop: Shop) -> str:
    return f"ls-eu1-{shop.shop_id}"


@pytest.fixture
async def ingest(settings: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP service on a real socket, and a client pointed at it."""
    ingest_settings = IngestSettings(**settings.model_dump(), http_port=free_port())
    config = uvicorn.Config(
        create_app(ingest_settings),
        host="127.0.0.1",
        port=ingest_settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{ingest_settings.http_port}", timeout=15
    ) as client:
        yield client
    server.should_exit = True
    await task


@pytest.fixture
async def rewarding(settings: CommonSettings, unique: str) -> AsyncIterator[RewardingService]:
    """The rewarding consumer, started in this event loop."""
    service = RewardingService(
        RewardingSettings(**settings.model_dump(), rewarding_group_id=f"rewarding-{unique}")
    )
    await service.app.start()
    yield service
    await service.app.stop()


@pytest.fixture
def repository_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def telemetry() -> CapturedTelemetry:
    """Global OpenTelemetry providers with in-memory exporters, shared by the whole run.

    OpenTelemetry accepts global providers once per process, so tests compare
    metric values before and after, and filter spans by trace id.
    """
    return install_captured_telemetry()
