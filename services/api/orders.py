"""``GET /merchants/{merchant_id}/orders/{order_id}/events``: an order's full stream.

Shows every recorded decision on the order, including those that changed no
points: stale and ignored events with their reasons, applied refunds and
removals clamped by the negative-balance policy.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.store.merchants import find_by_id

router = APIRouter()


@router.get("/merchants/{merchant_id}/orders/{order_id}/events")
async def get_order_events(merchant_id: str, order_id: str, request: Request) -> JSONResponse:
    """Return the events of the order's stream, oldest first."""
    pool = request.app.state.pool
    if await find_by_id(pool, merchant_id) is None:
        return JSONResponse(
            {"error": f"merchant {merchant_id!r} is not registered"}, status_code=404
        )
    rows = await pool.fetch(
        """
        SELECT stream_version, position, event_type, data, recorded_at
        FROM events
        WHERE stream_id = $1
        ORDER BY stream_version
        """,
        f"order:{merchant_id}:{order_id}",
    )
    if not rows:
        return JSONResponse(
            {"error": f"order {order_id!r} of merchant {merchant_id!r} has no events"},
            status_code=404,
        )
    events = [
        {
            "stream_version": row["stream_version"],
            "position": row["position"],
            "event_type": row["event_type"],
            "recorded_at": row["recorded_at"].isoformat(),
            "data": row["data"],
        }
        for row in rows
    ]
    return JSONResponse({"merchant_id": merchant_id, "order_id": order_id, "events": events})
