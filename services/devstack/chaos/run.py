"""One chaos run: the pipeline under random faults, checked against the reference model."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from schemas.orders import OrderStatusChanged
from services.common.kafka import create_topics
from services.common.settings import CommonSettings, RewardingSettings
from services.common.topic_reader import read_topic
from services.devstack.chaos.checks import actual_ledgers, send_poison, wait_drained
from services.devstack.chaos.emails import EmailPipeline
from services.devstack.chaos.faults import FaultInjector
from services.devstack.chaos.model import compare, expected_ledgers
from services.devstack.chaos.processes import ServiceProcess
from services.devstack.chaos.sender import WebhookSender
from services.devstack.chaos.summary import ChaosSummary
from services.devstack.chaos.workload import build_workload
from services.devstack.database import (
    database_name,
    drop_database,
    recreate_database,
    with_database,
)
from services.devstack.lightspeed_fixtures import Shop
from services.devstack.ports import free_port, wait_for_port
from services.devstack.tansu import TANSU_CLIENT_ENVIRONMENT, start_tansu
from services.replay.run import replay
from services.store import migrate
from services.store.merchants import Merchant, add_merchant

logger = logging.getLogger(__name__)

GROUP_ID = "loyalty-rewarding-chaos"
REPLAY_GROUP_ID = "loyalty-replay-chaos"
SHUTDOWN_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class ChaosOptions:
    webhooks: int = 20_000
    customers: int = 1_000
    consumers: int = 3
    ingests: int = 2
    poison_records: int = 5
    seed: int | None = None
    # Time allowed for the consumers to apply everything once sending ended.
    drain_timeout: float = 120.0
    # Faults go on at least this long, even when the webhooks were sent sooner.
    min_fault_seconds: float = 0.0
    # The whole run fails after this long.
    time_limit: float = 300.0
    # LOYALTY_LOG_LEVEL of the service processes, whose logs stay in ``directory``.
    service_log_level: str = "WARNING"
    # Start the relay, the notifier and an SMTP sink, stop the sink a while, count emails.
    emails: bool = False
    # Time allowed for the notifier to send every award's email once the points are in.
    email_timeout: float = 90.0
    server_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    directory: Path = Path(".stack/chaos")


class ChaosTimeoutError(Exception):
    """The chaos run did not finish within its time limit."""


def notifier_available() -> bool:
    return importlib.util.find_spec("services.notifier") is not None


async def run_chaos(options: ChaosOptions) -> ChaosSummary:
    """Start a private stack, send the workload under faults, and compare the results."""
    seed = options.seed if options.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    logs = options.directory / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{seed}"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    broker = await asyncio.to_thread(start_tansu, free_port(), logs / "tansu.log")
    database_url = with_database(options.server_url, f"loyalty_chaos_{uuid.uuid4().hex[:10]}")
    try:
        await recreate_database(database_url)
        await asyncio.to_thread(migrate.upgrade, database_url)
        async with asyncio.timeout(options.time_limit):
            summary = await _run(options, seed, rng, logs, broker.bootstrap_servers, database_url)
    except TimeoutError as error:
        raise ChaosTimeoutError(
            f"the chaos run took longer than {options.time_limit:.0f} s; see the logs in {logs}"
        ) from error
    finally:
        broker.stop()
        await drop_database(database_url)
    summary.seconds = time.monotonic() - started
    return summary


async def _run(
    options: ChaosOptions,
    seed: int,
    rng: random.Random,
    logs: Path,
    bootstrap_servers: str,
    database_url: str,
) -> ChaosSummary:
    settings = CommonSettings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap_servers,
        kafka_idempotence=False,
        kafka_transactions=False,
    )
    await create_topics(settings)
    shop = Shop(shop_id=rng.randrange(10_000, 99_999), cluster_id="eu1", secret=f"chaos-{seed}")
    await _register(database_url, shop)

    environment = {
        **TANSU_CLIENT_ENVIRONMENT,
        "LOYALTY_DATABASE_URL": database_url,
        "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
        "LOYALTY_REWARDING_GROUP_ID": GROUP_ID,
        "LOYALTY_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT_SECONDS),
        "LOYALTY_LOG_LEVEL": options.service_log_level,
        "LOYALTY_PUBLISH_TIMEOUT_SECONDS": "5",
        # Several consumers run at once, so none serves /metrics on the default port.
        "LOYALTY_METRICS_PORT": "0",
    }
    ingests = [
        ServiceProcess(
            f"ingest-{number}",
            "services.ingest",
            {**environment, "LOYALTY_HTTP_PORT": str(free_port())},
            logs,
        )
        for number in range(options.ingests)
    ]
    consumers = [
        ServiceProcess(f"rewarding-{number}", "services.rewarding", environment, logs)
        for number in range(options.consumers)
    ]
    # NOTE: the email section is off by default: in its first short runs the notifier had
    # not emailed every award within email_timeout, which is not yet explained.
    emails = EmailPipeline(environment, logs) if options.emails and notifier_available() else None
    try:
        return await _exercise(
            options,
            seed,
            rng,
            logs,
            bootstrap_servers,
            database_url,
            settings,
            shop,
            ingests,
            consumers,
            emails,
        )
    finally:
        extra = (emails.notifier, emails.relay, emails.sink) if emails else ()
        for process in (*ingests, *consumers, *extra):
            if process.running:
                await process.kill()


async def _exercise(
    options: ChaosOptions,
    seed: int,
    rng: random.Random,
    logs: Path,
    bootstrap_servers: str,
    database_url: str,
    settings: CommonSettings,
    shop: Shop,
    ingests: list[ServiceProcess],
    consumers: list[ServiceProcess],
    emails: EmailPipeline | None,
) -> ChaosSummary:
    for process in (*ingests, *consumers):
        await process.start()
    if emails is not None:
        await emails.start()
    # The notifier is a consumer too, so it is killed at random like the others.
    victims = [*consumers, emails.notifier] if emails else list(consumers)
    for ingest in ingests:
        await asyncio.to_thread(wait_for_port, int(ingest.environment["LOYALTY_HTTP_PORT"]), 60)

    workload = build_workload(
        shop, webhooks=options.webhooks, customers=options.customers, seed=seed
    )
    poison = await send_poison(settings, options.poison_records)
    urls = [
        f"http://127.0.0.1:{ingest.environment['LOYALTY_HTTP_PORT']}/webhooks/lightspeed"
        for ingest in ingests
    ]
    sender = WebhookSender(shop, urls)
    faults = FaultInjector(victims, database_url, rng, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS)
    stop = asyncio.Event()
    fault_tasks = [
        asyncio.create_task(faults.kill_consumers(stop)),
        asyncio.create_task(faults.terminate_connections(stop)),
    ]
    if emails is not None:
        fault_tasks.append(asyncio.create_task(emails.smtp_outage(stop, rng)))
    faults_started = time.monotonic()
    try:
        await sender.send(workload.webhooks)
        remaining = options.min_fault_seconds - (time.monotonic() - faults_started)
        if remaining > 0:
            await asyncio.sleep(remaining)
    finally:
        stop.set()
        await asyncio.gather(*fault_tasks)
    for victim in victims:
        if not victim.running:
            await victim.start()

    records = await read_topic(bootstrap_servers, settings.orders_topic, idle_seconds=2.0)
    drained = await wait_drained(database_url, GROUP_ID, records, options.drain_timeout)
    email_count = (
        await emails.wait_delivered(database_url, options.email_timeout) if emails else None
    )
    stop_codes = [await process.terminate(SHUTDOWN_TIMEOUT_SECONDS + 5) for process in consumers]
    if emails is not None:
        await emails.stop()
    for ingest in ingests:
        await ingest.terminate(10)

    events = [
        OrderStatusChanged.model_validate_json(record.value)
        for record in records
        if (record.partition, record.offset) not in poison
    ]
    actual, balances = await actual_ledgers(database_url)
    replay_identical = await _replay_identical(settings, database_url, options.drain_timeout)
    lost, duplicated, differing = compare(expected_ledgers(events), actual)
    balance_errors = sum(
        1
        for customer, points in workload.expected_balances.items()
        if balances.get(customer, 0) != points
    )
    letters = await read_topic(bootstrap_servers, settings.orders_dlq_topic, idle_seconds=1.0)
    lettered = Counter(
        (
            int(dict(r.headers)["dlq-original-partition"]),
            int(dict(r.headers)["dlq-original-offset"]),
        )
        for r in letters
    )
    return ChaosSummary(
        seed=seed,
        webhooks_sent=sender.sent,
        webhooks_failed=sender.failed,
        webhook_retries=sender.retries,
        server_errors=sender.server_errors,
        duplicates_sent=workload.duplicates,
        orders=workload.orders,
        customers=workload.customers,
        records_in_topic=len(records),
        drained=drained,
        sigkills=faults.counts.sigkills,
        sigterms=faults.counts.sigterms,
        sigterm_exit_codes=faults.counts.sigterm_exit_codes + stop_codes,
        connections_terminated=faults.counts.connections_terminated,
        consumer_starts=sum(consumer.starts for consumer in consumers),
        poison_sent=len(poison),
        dead_letters=len(lettered),
        dead_letters_republished=sum(lettered.values()) - len(lettered),
        poison_not_dead_lettered=len(poison - set(lettered)),
        points_lost=lost,
        points_duplicated=duplicated,
        ledgers_differing=differing,
        balances_differing=balance_errors,
        emails=email_count,
        replay_identical=replay_identical,
        logs=str(logs),
    )


class _NoProgress:
    def progress(self, consumed: int, end: int | None) -> None:
        pass


async def _replay_identical(
    settings: CommonSettings, database_url: str, timeout_seconds: float
) -> bool:
    """Replay the orders topic into a new database and return whether the ledgers are identical."""
    target = with_database(database_url, f"{database_name(database_url)}_replay")
    replay_settings = RewardingSettings(
        **{
            **settings.model_dump(),
            "database_url": target,
            "kafka_session_timeout_ms": int(
                TANSU_CLIENT_ENVIRONMENT["LOYALTY_KAFKA_SESSION_TIMEOUT_MS"]
            ),
            "kafka_heartbeat_interval_ms": int(
                TANSU_CLIENT_ENVIRONMENT["LOYALTY_KAFKA_HEARTBEAT_INTERVAL_MS"]
            ),
        },
        rewarding_group_id=REPLAY_GROUP_ID,
    )
    try:
        result = await replay(
            replay_settings, database_url, GROUP_ID, _NoProgress(), timeout_seconds
        )
    finally:
        await drop_database(target)
    return result.identical is True


async def _register(database_url: str, shop: Shop) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await add_merchant(
            connection,
            Merchant(
                merchant_id=f"ls-eu1-{shop.shop_id}",
                cluster_id=shop.cluster_id,
                shop_id=shop.shop_id,
                webhook_secret=shop.secret,
                display_name="Chaos Shop",
                base_currency="EUR",
            ),
        )
    finally:
        await connection.close()
