"""Service processes of the chaos run, started as ``python -m <module>`` and killed by PID."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path


class ServiceProcess:
    """One service process that can be killed and started again under the same name."""

    def __init__(
        self,
        name: str,
        module: str,
        environment: dict[str, str],
        logs: Path,
        arguments: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.module = module
        self.arguments = arguments
        self.environment = environment
        self.log_path = logs / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.module,
                *self.arguments,
                env={**os.environ, **self.environment},
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    async def kill(self) -> None:
        """Send SIGKILL and wait for the process to end."""
        await self._signal_and_wait(signal.SIGKILL, 10.0)

    async def terminate(self, wait_seconds: float) -> int | None:
        """Send SIGTERM, wait up to ``wait_seconds``, then SIGKILL; return the exit code."""
        if not await self._signal_and_wait(signal.SIGTERM, wait_seconds):
            await self.kill()
        return self.process.returncode if self.process else None

    async def _signal_and_wait(self, signum: int, wait_seconds: float) -> bool:
        process = self.process
        if process is None or process.returncode is not None:
            return True
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)
        try:
            await asyncio.wait_for(process.wait(), wait_seconds)
        except TimeoutError:
            return False
        return True
