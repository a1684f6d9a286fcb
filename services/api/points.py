"""``GET /merchants/{merchant_id}/customers/{customer_key}/points``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.store.ledger import read_ledger

router = APIRouter()


@router.get("/merchants/{merchant_id}/customers/{customer_key}/points")
async def get_points(merchant_id: str, customer_key: str, request: Request) -> JSONResponse:
    """Return the customer's balance and ledger, oldest entry first."""
    if "@" in customer_key:
        # Guest keys are stored as the trimmed, lower-cased email.
        customer_key = customer_key.strip().lower()
    ledger = await read_ledger(request.app.state.pool, merchant_id, customer_key)
    if ledger is None:
        return JSONResponse(
            {
                "error": f"merchant {merchant_id!r} is not registered; "
                "add it with 'loyalty merchant add'"
            },
            status_code=404,
        )
    if ledger.balance is None:
        return JSONResponse(
            {
                "error": f"customer {customer_key!r} of merchant {merchant_id!r} "
                "has no points history"
            },
            status_code=404,
        )
    return JSONResponse(ledger.to_json())
