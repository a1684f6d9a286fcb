"""Posting webhooks concurrently to the ingest, retrying failed deliveries.

C-Series does not document its retries, so the sender delivers at least once:
it retries a webhook that got no response or a 5xx status, and a 4xx is final.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import Sequence

import httpx

from services.devstack.chaos.workload import Webhook
from services.devstack.lightspeed_fixtures import Shop, webhook_headers

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 60


class WebhookSender:
    """Posts webhooks from ``concurrency`` workers, spread over the ingest URLs."""

    def __init__(self, shop: Shop, urls: Sequence[str], concurrency: int = 32) -> None:
        self._shop = shop
        self._urls = itertools.cycle(urls)
        self._concurrency = concurrency
        self.statuses: Counter[int] = Counter()
        self.retries = 0
        self.server_errors = 0
        self.failed = 0
        self.sent = 0

    async def send(self, webhooks: Sequence[Webhook]) -> None:
        queue: asyncio.Queue[Webhook] = asyncio.Queue()
        for webhook in webhooks:
            queue.put_nowait(webhook)
        limits = httpx.Limits(max_connections=self._concurrency * 2)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            workers = [
                asyncio.create_task(self._work(client, queue)) for _ in range(self._concurrency)
            ]
            await asyncio.gather(*workers)

    async def _work(self, client: httpx.AsyncClient, queue: asyncio.Queue[Webhook]) -> None:
        while not queue.empty():
            webhook = queue.get_nowait()
            await self._post(client, webhook)

    async def _post(self, client: httpx.AsyncClient, webhook: Webhook) -> None:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            url = next(self._urls)
            headers = webhook_headers(self._shop, webhook.body, "orders/updated")
            try:
                response = await client.post(url, content=webhook.body, headers=headers)
                status = response.status_code
            except httpx.TransportError:
                status = 0
            self.statuses[status] += 1
            if status == 200:
                self.sent += 1
                return
            if 400 <= status < 500:
                logger.error("webhook for order %d got %d", webhook.order_id, status)
                self.failed += 1
                return
            self.retries += 1
            if status >= 500:
                self.server_errors += 1
            await asyncio.sleep(min(2.0, 0.05 * attempt))
        logger.error("webhook for order %d failed %d times", webhook.order_id, MAX_ATTEMPTS)
        self.failed += 1
