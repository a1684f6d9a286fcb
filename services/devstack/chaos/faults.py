"""Faults injected while the chaos run sends traffic: killed consumers, terminated connections."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field

import asyncpg

from services.devstack.chaos.processes import ServiceProcess

logger = logging.getLogger(__name__)


@dataclass
class FaultCounts:
    sigkills: int = 0
    sigterms: int = 0
    # Exit codes of consumers stopped with SIGTERM; each must be 0.
    sigterm_exit_codes: list[int | None] = field(default_factory=list)
    connections_terminated: int = 0


class FaultInjector:
    """Kills and restarts consumers and terminates their database connections at random."""

    def __init__(
        self,
        consumers: list[ServiceProcess],
        database_url: str,
        rng: random.Random,
        *,
        shutdown_timeout: float,
    ) -> None:
        self._consumers = consumers
        self._database_url = database_url
        self._rng = rng
        self._shutdown_timeout = shutdown_timeout
        self.counts = FaultCounts()

    async def kill_consumers(self, stop: asyncio.Event) -> None:
        """Stop a random consumer every 1.5 to 5 s (mostly with SIGKILL) and start it again."""
        while not await _wait(stop, self._rng.uniform(1.5, 5.0)):
            victim = self._rng.choice(self._consumers)
            if self._rng.random() < 0.8:
                await victim.kill()
                self.counts.sigkills += 1
            else:
                code = await victim.terminate(self._shutdown_timeout + 5)
                self.counts.sigterms += 1
                self.counts.sigterm_exit_codes.append(code)
            await _wait(stop, self._rng.uniform(0.2, 2.0))
            await victim.start()

    async def terminate_connections(self, stop: asyncio.Event) -> None:
        """Terminate every other backend of the run's database every 2 to 6 s."""
        while not await _wait(stop, self._rng.uniform(2.0, 6.0)):
            try:
                connection = await asyncpg.connect(self._database_url)
                try:
                    terminated = await connection.fetchval(
                        """
                        SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
                        FROM pg_stat_activity
                        WHERE datname = current_database() AND pid <> pg_backend_pid()
                        """
                    )
                finally:
                    await connection.close()
            except (OSError, asyncpg.PostgresError) as error:
                logger.warning("terminating connections failed: %s", error)
                continue
            self.counts.connections_terminated += int(terminated or 0)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop`` is set; return whether it is set."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
