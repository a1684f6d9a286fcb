"""Wiring a backfill from its settings: database, HTTP client, pacer and publisher."""

from __future__ import annotations

from datetime import datetime

import httpx

from services.backfill.client import OrdersClient, RetryPolicy
from services.backfill.publishing import BackfillPublisher
from services.backfill.rate_limit import RequestPacer
from services.backfill.runner import BackfillListener, BackfillResult, run_backfill
from services.backfill.settings import BackfillSettings
from services.common.db import create_pool
from services.common.errors import ConfigurationError, LoyaltyError
from services.store.merchants import find_by_id, not_registered


async def backfill(
    settings: BackfillSettings,
    merchant_id: str,
    since: datetime,
    listener: BackfillListener,
    *,
    language: str = "en",
    restart: bool = False,
) -> BackfillResult:
    """Publish the orders of ``merchant_id`` changed since ``since``, resuming a stopped run."""
    if settings.lightspeed_api_key is None or settings.lightspeed_api_secret is None:
        raise ConfigurationError(
            "the API key and secret are missing; pass --api-key and --api-secret or set "
            "LOYALTY_LIGHTSPEED_API_KEY and LOYALTY_LIGHTSPEED_API_SECRET"
        )
    auth = httpx.BasicAuth(
        settings.lightspeed_api_key.get_secret_value(),
        settings.lightspeed_api_secret.get_secret_value(),
    )
    pool = await create_pool(settings.database_url, max_size=1)
    publisher = BackfillPublisher(settings)
    try:
        merchant = await find_by_id(pool, merchant_id)
        if merchant is None:
            raise LoyaltyError(not_registered(merchant_id))
        try:
            base_url = settings.api_url(merchant.cluster_id, language)
        except ValueError as error:
            raise ConfigurationError(str(error)) from error
        retry = RetryPolicy(
            settings.backfill_max_retries,
            settings.backfill_retry_base_seconds,
            settings.backfill_max_wait_seconds,
        )
        async with httpx.AsyncClient(
            auth=auth, timeout=settings.backfill_request_timeout_seconds
        ) as http:
            client = OrdersClient(
                http, base_url, RequestPacer(settings.backfill_requests_per_second), retry
            )
            return await run_backfill(
                pool,
                client,
                publisher,
                merchant,
                since,
                settings.backfill_page_size,
                listener,
                restart=restart,
            )
    finally:
        await publisher.close()
        await pool.close()
