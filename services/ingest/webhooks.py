"""``POST /webhooks/lightspeed``: verify, normalize and publish a Lightspeed webhook.

Checks run in this order, and nothing is published unless all pass: body size
(413), shop headers (400), known shop (404), signature (401), handled event
group (202 otherwise), JSON and resource fields (400), broker acknowledgement (503).
Invoices other than credit notes carry no refund and get a 202 response.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from schemas.orders import OrderStatusChanged
from schemas.refunds import OrderRefunded
from services.common.errors import ServiceUnavailableError
from services.ingest.lightspeed import (
    InvalidPayloadError,
    load_json,
    normalize_order,
    parse_order,
)
from services.ingest.lightspeed_invoices import normalize_credit_note, parse_invoice
from services.ingest.signature import is_valid_signature
from services.store.merchants import find_by_shop
from services.telemetry.instruments import instruments

logger = logging.getLogger(__name__)

router = APIRouter()

HANDLED_ACTIONS = {
    "orders": frozenset({"created", "updated", "paid", "shipped"}),
    "invoices": frozenset({"created", "updated"}),
}

# The ``outcome`` attribute of loyalty.webhooks.received, by response status.
WEBHOOK_OUTCOMES = {
    200: "accepted",
    202: "ignored",
    400: "invalid",
    401: "invalid_signature",
    404: "unknown_shop",
    413: "too_large",
    503: "broker_unavailable",
}


def problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class BodyTooLargeError(Exception):
    pass


async def read_limited_body(request: Request, limit: int) -> bytes:
    """Return the raw body, or raise BodyTooLargeError once it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    chunks = bytearray()
    async for chunk in request.stream():
        chunks.extend(chunk)
        if len(chunks) > limit:
            raise BodyTooLargeError
    return bytes(chunks)


def start_webhook_counters() -> None:
    """Expose every webhook outcome at zero, so dashboards show 0 before the first webhook."""
    for outcome in (*WEBHOOK_OUTCOMES.values(), "error"):
        instruments().webhooks_received.add(0, {"outcome": outcome})


@router.post("/webhooks/lightspeed")
async def receive_lightspeed_webhook(request: Request) -> JSONResponse:
    """Handle one webhook and count it by outcome."""
    try:
        response = await _handle_webhook(request)
    except Exception:
        instruments().webhooks_received.add(1, {"outcome": "error"})
        raise
    outcome = WEBHOOK_OUTCOMES.get(response.status_code, str(response.status_code))
    instruments().webhooks_received.add(1, {"outcome": outcome})
    return response


async def _handle_webhook(request: Request) -> JSONResponse:
    state = request.app.state
    limit = state.settings.max_body_bytes
    try:
        body = await read_limited_body(request, limit)
    except BodyTooLargeError:
        return problem(
            413, f"request body exceeds the limit of {limit} bytes (LOYALTY_MAX_BODY_BYTES)"
        )

    cluster_id = request.headers.get("x-cluster-id", "").strip()
    shop_header = request.headers.get("x-shop-id", "").strip()
    if not cluster_id:
        return problem(400, "header X-Cluster-Id is missing; Lightspeed sends eu1 or us1")
    if not shop_header:
        return problem(400, "header X-Shop-Id is missing; it carries the numeric shop id")
    if not shop_header.isdigit():
        return problem(400, f"header X-Shop-Id {shop_header!r} is not a number")

    merchant = await find_by_shop(state.pool, cluster_id, int(shop_header))
    if merchant is None:
        return problem(
            404,
            f"shop {shop_header} on cluster {cluster_id} is not registered; "
            "add it with 'loyalty merchant add'",
        )

    if not is_valid_signature(body, merchant.webhook_secret, request.headers.get("x-signature")):
        logger.warning(
            "webhook rejected: invalid signature", extra={"merchant_id": merchant.merchant_id}
        )
        return problem(401, "X-Signature is missing or does not match md5(body + app secret)")

    event_header = request.headers.get("x-event", "").strip().lower()
    if not event_header:
        return problem(
            400, "header X-Event is missing; Lightspeed sends group/action, e.g. orders/paid"
        )
    group, _, action = event_header.partition("/")
    if action not in HANDLED_ACTIONS.get(group, frozenset()):
        logger.info(
            "webhook ignored", extra={"merchant_id": merchant.merchant_id, "x_event": event_header}
        )
        return JSONResponse({"status": "ignored", "event": event_header}, status_code=202)

    received_at = datetime.now(UTC)
    event: OrderStatusChanged | OrderRefunded
    try:
        payload = load_json(body)
        if group == "invoices":
            invoice = parse_invoice(payload)
            if not invoice.is_credit_note:
                return JSONResponse(
                    {
                        "status": "ignored",
                        "event": event_header,
                        "reason": f"invoice {invoice.number} is not a credit note",
                    },
                    status_code=202,
                )
            event = normalize_credit_note(
                invoice,
                merchant_id=merchant.merchant_id,
                base_currency=merchant.base_currency,
                received_at=received_at,
            )
        else:
            event = normalize_order(
                parse_order(payload),
                merchant_id=merchant.merchant_id,
                base_currency=merchant.base_currency,
                received_at=received_at,
            )
    except InvalidPayloadError as error:
        return problem(400, str(error))

    try:
        await state.publisher.publish(event)
    except ServiceUnavailableError as error:
        logger.error(
            "webhook not accepted: broker unavailable",
            extra={
                "merchant_id": merchant.merchant_id,
                "event_id": str(event.event_id),
                "error": str(error),
            },
        )
        return problem(503, "the event broker is unavailable; the platform should retry")

    logger.info(
        "webhook accepted",
        extra={
            "merchant_id": merchant.merchant_id,
            "order_id": event.order_id,
            "event_id": str(event.event_id),
            "x_event": event_header,
        },
    )
    return JSONResponse({"status": "accepted", "event_id": str(event.event_id)}, status_code=200)
