"""A resumable backfill: page through the shop's orders, normalize, publish, checkpoint.

Each order becomes the ``OrderStatusChanged`` a webhook with the same order
would give, with the same deterministic event id, so the rewarding consumer
treats an order it has seen as a duplicate. A page is checkpointed only after
the broker acknowledged all of its events. An interrupted run publishes the page
it was on again, and that changes nothing, because the event ids are the same.

NOTE: page-number paging over a list that changes during the run can skip an
order when an earlier one leaves the filtered list. Orders that change during
the run arrive by webhook anyway; run again with ``--restart`` to page the
whole list once more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from schemas.orders import OrderStatusChanged
from services.backfill.checkpoints import Checkpoint, open_checkpoint, save_page
from services.backfill.client import OrdersClient
from services.backfill.publishing import BackfillPublisher, RejectedOrder
from services.common.db import Queryable
from services.ingest.lightspeed import InvalidPayloadError, normalize_order, parse_order
from services.store.merchants import Merchant

logger = logging.getLogger(__name__)


class BackfillListener(Protocol):
    """Receives progress: the total when known, then each page's order count."""

    def total(self, orders: int | None, already_done: int) -> None: ...

    def page_done(self, page: int, orders: int) -> None: ...


@dataclass(frozen=True)
class BackfillResult:
    """Counts of one run, and the checkpoint it left."""

    checkpoint: Checkpoint
    pages: int
    published: int
    rejected: int
    already_complete: bool


def normalize_page(
    merchant: Merchant, page: int, orders: list[Any], received_at: datetime
) -> tuple[list[OrderStatusChanged], list[RejectedOrder]]:
    """Return the events of the valid orders of a page, and the rejected ones with reasons."""
    events: list[OrderStatusChanged] = []
    rejected: list[RejectedOrder] = []
    for order in orders:
        try:
            parsed = parse_order({"order": order})
        except InvalidPayloadError as error:
            rejected.append(RejectedOrder(merchant.merchant_id, page, order, str(error)))
            continue
        events.append(
            normalize_order(
                parsed,
                merchant_id=merchant.merchant_id,
                base_currency=merchant.base_currency,
                received_at=received_at,
            )
        )
    return events, rejected


async def run_backfill(
    database: Queryable,
    client: OrdersClient,
    publisher: BackfillPublisher,
    merchant: Merchant,
    since: datetime,
    page_size: int,
    listener: BackfillListener,
    *,
    restart: bool = False,
) -> BackfillResult:
    """Publish every order of ``merchant`` changed since ``since``, from the checkpoint on."""
    checkpoint = await open_checkpoint(
        database, merchant.merchant_id, since, page_size, restart=restart
    )
    if checkpoint.completed_at is not None:
        return BackfillResult(checkpoint, 0, 0, 0, already_complete=True)
    listener.total(await client.count(since), checkpoint.last_page * page_size)

    pages = published = rejected_count = 0
    page = checkpoint.last_page + 1
    while True:
        orders = await client.page(since, page, page_size)
        events, rejected = normalize_page(merchant, page, orders, datetime.now(UTC))
        await publisher.publish(events)
        await publisher.reject(rejected)
        for item in rejected:
            logger.warning(
                "order rejected and dead-lettered",
                extra={
                    "merchant_id": merchant.merchant_id,
                    "order_id": item.order_id,
                    "page": page,
                    "reason": item.reason,
                },
            )
        last = len(orders) < page_size
        checkpoint = await save_page(
            database, checkpoint, page, len(events), len(rejected), completed=last
        )
        pages += 1
        published += len(events)
        rejected_count += len(rejected)
        listener.page_done(page, len(orders))
        if last:
            return BackfillResult(checkpoint, pages, published, rejected_count, False)
        page += 1
