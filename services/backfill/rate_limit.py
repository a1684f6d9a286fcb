"""Client-side pacing of REST requests, and the wait that a 429 response requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


class RequestPacer:
    """Spaces request starts at least ``1 / rate`` seconds apart."""

    def __init__(self, requests_per_second: float) -> None:
        self._interval = 1.0 / requests_per_second
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return once the next request may start."""
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
                now = self._next
            self._next = now + self._interval

    def pause(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` from now."""
        self._next = max(self._next, time.monotonic() + seconds)


def _numbers(value: str | None) -> list[float]:
    if not value:
        return []
    numbers = []
    for part in value.replace("/", ",").split(","):
        try:
            numbers.append(float(part.strip()))
        except ValueError:
            continue
    return numbers


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Return how long a 429 response requests the client to wait, or None when it names none.

    ``Retry-After`` (seconds or an HTTP date) wins. Otherwise ``X-RateLimit-Reset``
    gives the seconds until each window resets (5 minutes, hour, day, comma- or
    slash-separated), and the wait is the longest reset among the windows that
    ``X-RateLimit-Remaining`` shows exhausted, else the shortest reset.

    The platform documents reset headers on 429 but not their exact form, so both
    separators are accepted and ``Retry-After`` is preferred.
    """
    retry_after = headers.get("retry-after")
    if retry_after:
        seconds = _numbers(retry_after)
        if seconds:
            return max(seconds[0], 0.0)
        try:
            moment = parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            return max((moment - (now or datetime.now(UTC))).total_seconds(), 0.0)
    resets = _numbers(headers.get("x-ratelimit-reset"))
    if not resets:
        return None
    remaining = _numbers(headers.get("x-ratelimit-remaining"))
    exhausted = [reset for reset, left in zip(resets, remaining, strict=False) if left <= 0]
    return max(exhausted) if exhausted else min(resets)
