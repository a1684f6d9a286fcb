"""The HTTP application: webhooks, the read API and health checks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.api.orders import router as orders_router
from services.api.points import router as points_router
from services.api.settings import router as settings_router
from services.common.db import create_pool
from services.common.settings import IngestSettings
from services.ingest.publisher import OrderEventPublisher
from services.ingest.webhooks import router as webhook_router
from services.ingest.webhooks import start_webhook_counters
from services.telemetry.http import http_telemetry, metrics_router
from services.telemetry.providers import Telemetry

logger = logging.getLogger(__name__)


def create_app(settings: IngestSettings, telemetry: Telemetry | None = None) -> FastAPI:
    """Build the application; the pool and the producer open at start-up.

    ``telemetry`` is shut down with the app, so buffered spans and metrics are
    exported before uvicorn ends the process on SIGTERM.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.pool = await create_pool(
            settings.database_url, max_size=settings.database_pool_size
        )
        app.state.publisher = OrderEventPublisher(settings)
        start_webhook_counters()
        logger.info("ingest started on %s:%d", settings.http_host, settings.http_port)
        try:
            yield
        finally:
            await app.state.publisher.close()
            await app.state.pool.close()
            logger.info("ingest stopped")
            if telemetry is not None:
                telemetry.shutdown()

    app = FastAPI(title="loyalty-ledger", lifespan=lifespan, telemetry=http_telemetry())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        # Framework errors (404 route, 405 method) get the same body shape as ours.
        return JSONResponse(
            {"error": f"{request.method} {request.url.path}: {error.detail}"},
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(asyncpg.PostgresConnectionError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(asyncpg.exceptions.AdminShutdownError)
    @app.exception_handler(asyncpg.exceptions.CannotConnectNowError)
    @app.exception_handler(OSError)
    async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
        # A lost database connection is temporary: 503 makes the platform retry.
        logger.error(
            "request failed: database unavailable",
            extra={"path": request.url.path, "error": repr(error)},
        )
        return JSONResponse(
            {"error": "the database is unavailable; retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.include_router(webhook_router)
    app.include_router(points_router)
    app.include_router(settings_router)
    app.include_router(orders_router)
    app.include_router(metrics_router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        database = await _database_ready(request)
        broker = await request.app.state.publisher.is_ready()
        status = 200 if database and broker else 503
        return JSONResponse({"database": database, "broker": broker}, status_code=status)

    return app


async def _database_ready(request: Request) -> bool:
    try:
        async with asyncio.timeout(2.0):
            await request.app.state.pool.fetchval("SELECT 1")
    except (OSError, TimeoutError, Exception):
        return False
    return True
