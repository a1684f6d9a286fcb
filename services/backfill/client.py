"""The platform's REST order list: paging, Basic authentication, rate limits and retries."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from services.backfill.rate_limit import RequestPacer, retry_after_seconds
from services.common.errors import LoyaltyError

logger = logging.getLogger(__name__)

# Wait after a 429 that names no reset time.
DEFAULT_THROTTLE_SECONDS = 5.0


class BackfillError(LoyaltyError):
    """The REST API rejected the backfill or kept failing; the message names what to change."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry throttled and failed requests."""

    max_retries: int = 8
    base_seconds: float = 1.0
    max_wait_seconds: float = 900.0


def since_parameter(since: datetime) -> str:
    """Return ``since`` as the ``updated_at_min`` filter value, ISO 8601 with its offset.

    NOTE: the filter name and this time format are not checked against the real
    API, because it is out of reach here. The local imitation accepts them.
    """
    return since.isoformat()


class OrdersClient:
    """Reads ``orders.json`` and ``orders/count.json`` of one shop."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        pacer: RequestPacer,
        retry: RetryPolicy,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._pacer = pacer
        self._retry = retry
        self.throttled = 0

    async def count(self, since: datetime) -> int | None:
        """Return how many orders changed since ``since``, or None when the API omits the count."""
        body = await self._get(
            "orders/count.json", {"updated_at_min": since_parameter(since)}, missing_ok=True
        )
        count = body.get("count") if isinstance(body, dict) else None
        return count if isinstance(count, int) else None

    async def page(self, since: datetime, page: int, limit: int) -> list[dict[str, Any]]:
        """Return page ``page`` (from 1) of the orders changed since ``since``."""
        body = await self._get(
            "orders.json",
            {"updated_at_min": since_parameter(since), "page": str(page), "limit": str(limit)},
        )
        orders = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(orders, list):
            raise BackfillError(
                f"orders.json page {page} did not return an object with an 'orders' list"
            )
        return orders

    async def _get(self, path: str, params: dict[str, str], *, missing_ok: bool = False) -> Any:
        """Return the JSON body of ``path``; None for a 404 when ``missing_ok``."""
        url = f"{self._base_url}/{path}"
        failures = 0
        while True:
            await self._pacer.wait()
            try:
                response = await self._http.get(url, params=params)
            except httpx.TransportError as error:
                failures = self._count_failure(failures, f"{path}: {error!r}")
                await asyncio.sleep(self._backoff(failures))
                continue

            if response.status_code == 429:
                self.throttled += 1
                failures = self._count_failure(failures, f"{path}: 429 Too Many Requests")
                wait = retry_after_seconds(response.headers)
                wait = DEFAULT_THROTTLE_SECONDS if wait is None else wait
                limit = self._retry.max_wait_seconds
                if wait > limit:
                    raise BackfillError(
                        f"the API asks to wait {wait:.0f} s before the next request, longer "
                        f"than LOYALTY_BACKFILL_MAX_WAIT_SECONDS ({limit:.0f}); run the "
                        "backfill again later, it resumes after the last completed page"
                    )
                logger.warning("rate limited; waiting", extra={"path": path, "wait_seconds": wait})
                self._pacer.pause(wait)
                continue
            if response.status_code in (401, 403):
                raise BackfillError(
                    f"the API returned {response.status_code} for {path}: the API key and secret "
                    "were rejected; check --api-key and --api-secret "
                    "(LOYALTY_LIGHTSPEED_API_KEY / LOYALTY_LIGHTSPEED_API_SECRET)"
                )
            if response.status_code == 404 and missing_ok:
                return None
            if response.status_code >= 500:
                failures = self._count_failure(failures, f"{path}: {response.status_code}")
                await asyncio.sleep(self._backoff(failures))
                continue
            if response.status_code != 200:
                raise BackfillError(
                    f"the API returned {response.status_code} for {path}?{_query(params)}: "
                    f"{response.text[:300]}"
                )
            try:
                # Decimal amounts, as the ingest parses webhooks, so event ids come out the same.
                return json.loads(response.content, parse_float=Decimal)
            except ValueError as error:
                raise BackfillError(f"{path} did not return JSON: {error}") from error

    def _count_failure(self, failures: int, failure: str) -> int:
        failures += 1
        if failures > self._retry.max_retries:
            raise BackfillError(
                f"{failure}, still failing after {self._retry.max_retries} retries; run the "
                "backfill again later, it resumes after the last completed page"
            )
        logger.warning("request failed; retrying", extra={"failure": failure, "attempt": failures})
        return failures

    def _backoff(self, failures: int) -> float:
        return float(
            min(self._retry.base_seconds * 2 ** (failures - 1), self._retry.max_wait_seconds)
        )


def _query(params: dict[str, str]) -> str:
    return "&".join(f"{key}={value}" for key, value in params.items())
