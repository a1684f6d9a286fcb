"""``GET`` and ``PUT /merchants/{merchant_id}/settings``: a merchant's loyalty settings.

``PUT`` changes only the settings in the body and keeps the others. The actor
recorded with the change is the ``X-Actor`` header. A ``version`` in the body
makes the change conditional: it is rejected with 409 unless the settings are
still at that version.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.ingest.lightspeed import load_json
from services.merchant_settings.commands import settings_history, show_settings, update_settings
from services.merchant_settings.errors import (
    MerchantNotFoundError,
    SettingsRejectedError,
    SettingsVersionConflictError,
)
from services.merchant_settings.model import MerchantSettings

router = APIRouter()

DEFAULT_ACTOR = "http-api"


def settings_body(merchant_id: str, settings: MerchantSettings) -> dict[str, Any]:
    return {"merchant_id": merchant_id, **settings.model_dump(mode="json")}


@router.get("/merchants/{merchant_id}/settings")
async def get_settings(merchant_id: str, request: Request) -> JSONResponse:
    """Return the merchant's current settings and their version."""
    try:
        settings = await show_settings(request.app.state.pool, merchant_id)
    except MerchantNotFoundError as error:
        return JSONResponse({"error": str(error)}, status_code=404)
    return JSONResponse(settings_body(merchant_id, settings))


@router.get("/merchants/{merchant_id}/settings/history")
async def get_settings_history(merchant_id: str, request: Request) -> JSONResponse:
    """Return every settings change with its version, actor and time, oldest first."""
    try:
        changes = await settings_history(request.app.state.pool, merchant_id)
    except MerchantNotFoundError as error:
        return JSONResponse({"error": str(error)}, status_code=404)
    return JSONResponse({"merchant_id": merchant_id, "changes": changes})


@router.put("/merchants/{merchant_id}/settings")
async def put_settings(merchant_id: str, request: Request) -> JSONResponse:
    """Change the settings named in the body; 422 names every invalid field."""
    try:
        changes = load_json(await request.body())
    except ValueError as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    if not isinstance(changes, dict) or not changes:
        return JSONResponse(
            {"error": "body must be a JSON object with at least one setting to change"},
            status_code=400,
        )
    expected_version = changes.pop("version", None)
    if not changes:
        return JSONResponse(
            {"error": "body names no setting to change besides version"}, status_code=400
        )
    if expected_version is not None and (
        not isinstance(expected_version, int) or isinstance(expected_version, bool)
    ):
        return JSONResponse(
            {"error": f"version {expected_version!r} is invalid; send the integer version read"},
            status_code=400,
        )
    actor = request.headers.get("x-actor", "").strip() or DEFAULT_ACTOR

    try:
        settings = await update_settings(
            request.app.state.pool,
            merchant_id,
            changes,
            actor=actor,
            expected_version=expected_version,
        )
    except MerchantNotFoundError as error:
        return JSONResponse({"error": str(error)}, status_code=404)
    except SettingsVersionConflictError as error:
        return JSONResponse({"error": str(error)}, status_code=409)
    except SettingsRejectedError as error:
        problems = [{"field": p.field, "message": p.message} for p in error.problems]
        return JSONResponse({"error": str(error), "problems": problems}, status_code=422)
    return JSONResponse(settings_body(merchant_id, settings))
