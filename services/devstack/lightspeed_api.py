"""A local imitation of the platform's REST order list, for backfill tests and the demo.

It serves ``/{language}/orders.json`` and ``/{language}/orders/count.json`` with
Basic authentication, ``page`` and ``limit`` paging (at most 250) and the
``updated_at_min`` filter. It enforces the limit of 20 requests per second per
shop. Switches make it respond 429 with reset headers, or 500 for chosen pages.
"""

from __future__ import annotations

import base64
import json
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MAX_LIMIT = 250
REQUESTS_PER_SECOND = 20


@dataclass(frozen=True)
class ServedRequest:
    """One request the fake API responded to."""

    path: str
    page: int | None
    limit: int | None
    status: int
    at: float


@dataclass
class FakeApiState:
    """Orders served, credentials expected, and switches a test flips."""

    orders: list[dict[str, Any]]
    api_key: str
    api_secret: str
    throttle_next: int = 0
    """Number of next requests to respond to with 429."""
    reset_seconds: int = 1
    failing_pages: set[int] = field(default_factory=set)
    """Pages that get a 500 response."""
    requests: list[ServedRequest] = field(default_factory=list)
    recent_request_times: deque[float] = field(default_factory=deque)

    def pages_served(self) -> list[int]:
        return [r.page for r in self.requests if r.page is not None and r.status == 200]


def _limit_headers(state: FakeApiState, remaining: int) -> dict[str, str]:
    # Windows of 5 minutes, an hour and a day, as the platform reports them.
    return {
        "X-RateLimit-Limit": "300,3000,12000",
        "X-RateLimit-Remaining": f"{remaining},2999,11999",
        "X-RateLimit-Reset": f"{state.reset_seconds},3600,86400",
    }


def _authorized(request: Request, state: FakeApiState) -> bool:
    expected = base64.b64encode(f"{state.api_key}:{state.api_secret}".encode()).decode()
    return request.headers.get("authorization") == f"Basic {expected}"


def _filtered(state: FakeApiState, request: Request) -> list[dict[str, Any]]:
    since_text = request.query_params.get("updated_at_min")
    orders = sorted(state.orders, key=lambda order: int(order["id"]))
    if not since_text:
        return orders
    since = datetime.fromisoformat(since_text)
    return [o for o in orders if datetime.fromisoformat(str(o["updatedAt"])) >= since]


def _answer(
    state: FakeApiState, request: Request, page: int | None, limit: int | None
) -> JSONResponse | None:
    """Return the refusal for this request, or None when it may be served."""
    now = time.monotonic()
    refusal: JSONResponse | None = None
    if not _authorized(request, state):
        refusal = JSONResponse({"error": {"code": 401, "message": "Unauthorized"}}, 401)
    else:
        while state.recent_request_times and now - state.recent_request_times[0] >= 1.0:
            state.recent_request_times.popleft()
        state.recent_request_times.append(now)
        if state.throttle_next > 0 or len(state.recent_request_times) > REQUESTS_PER_SECOND:
            state.throttle_next = max(state.throttle_next - 1, 0)
            refusal = JSONResponse(
                {"error": {"code": 429, "message": "Too Many Requests"}},
                429,
                headers=_limit_headers(state, 0),
            )
        elif page is not None and page in state.failing_pages:
            refusal = JSONResponse({"error": {"code": 500, "message": "Server error"}}, 500)
        elif limit is not None and not 1 <= limit <= MAX_LIMIT:
            refusal = JSONResponse(
                {"error": {"code": 400, "message": f"limit must be 1 to {MAX_LIMIT}"}}, 400
            )
    status = refusal.status_code if refusal is not None else 200
    state.requests.append(ServedRequest(request.url.path, page, limit, status, now))
    return refusal


def _number(value: object) -> float:
    if isinstance(value, Decimal):
        # The platform writes amounts as JSON numbers.
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json(body: Any, state: FakeApiState) -> JSONResponse:
    content = json.loads(json.dumps(body, default=_number))
    return JSONResponse(content, headers=_limit_headers(state, 299))


def create_fake_api(state: FakeApiState) -> Starlette:
    """Return the app that serves ``state``."""

    async def orders(request: Request) -> JSONResponse:
        page = int(request.query_params.get("page", "1"))
        limit = int(request.query_params.get("limit", "50"))
        refusal = _answer(state, request, page, limit)
        if refusal is not None:
            return refusal
        selected = _filtered(state, request)[(page - 1) * limit : page * limit]
        return _json({"orders": selected}, state)

    async def count(request: Request) -> JSONResponse:
        refusal = _answer(state, request, None, None)
        if refusal is not None:
            return refusal
        return _json({"count": len(_filtered(state, request))}, state)

    return Starlette(
        routes=[
            Route("/{language}/orders.json", orders),
            Route("/{language}/orders/count.json", count),
        ]
    )


def demo_orders() -> list[dict[str, Any]]:
    """Return the demo shop's orders as the REST API lists them: each order's latest state.

    Besides the orders of the demo webhooks, two older paid orders of customer 501
    exist that no webhook delivered, which a backfill adds.
    """
    from services.devstack.demo import demo_deliveries
    from services.devstack.lightspeed_fixtures import order_resource

    latest: dict[int, dict[str, Any]] = {}
    for delivery in demo_deliveries():
        resource = delivery.resource
        current = latest.get(resource["id"])
        if current is None or current["updatedAt"] <= resource["updatedAt"]:
            latest[resource["id"]] = resource
    first = min(datetime.fromisoformat(str(order["updatedAt"])) for order in latest.values())
    for order_id, days in ((901, 20), (902, 10)):
        latest[order_id] = order_resource(
            order_id=order_id,
            payment_status="paid",
            updated_at=first - timedelta(days=days),
            price_incl=Decimal("25.00"),
            customer_id=501,
            email="anna@example.com",
            first_name="Anna",
            language="nl",
        )
    return [latest[order_id] for order_id in sorted(latest)]


def main() -> None:
    """Serve the demo shop's orders: ``python -m services.devstack.lightspeed_api``."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--api-key", default="demo-key")
    parser.add_argument("--api-secret", default="demo-secret")
    arguments = parser.parse_args()
    state = FakeApiState(demo_orders(), arguments.api_key, arguments.api_secret)
    print(f"serving {len(state.orders)} orders at http://127.0.0.1:{arguments.port}/en/orders.json")
    uvicorn.run(create_fake_api(state), host="127.0.0.1", port=arguments.port, log_level="warning")


if __name__ == "__main__":
    main()
