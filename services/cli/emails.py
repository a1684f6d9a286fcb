"""``loyalty emails``: inspect the earned-points emails and requeue failed ones."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.common.db import create_pool
from services.common.errors import LoyaltyError
from services.common.settings import CommonSettings
from services.notifier.jobs import count_jobs, count_skips, retry_failed_job

emails_app = typer.Typer(help="Earned-points emails.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


@emails_app.command("status")
def emails_status(
    merchant: Annotated[
        str | None, typer.Option(help="Count one merchant's emails only, such as ls-eu1-12345.")
    ] = None,
) -> None:
    """Print the number of email jobs per status and of awards that got no email, per reason."""

    async def run() -> tuple[dict[str, int], dict[str, int]]:
        pool = await create_pool(CommonSettings().database_url, max_size=1)
        try:
            return await count_jobs(pool, merchant), await count_skips(pool, merchant)
        finally:
            await pool.close()

    try:
        jobs, skips = asyncio.run(run())
    except LoyaltyError as error:
        raise fail(str(error)) from error
    table = Table(title=f"earned-points emails of {merchant or 'all merchants'}")
    table.add_column("state")
    table.add_column("count", justify="right")
    for status in ("pending", "sent", "failed", "cancelled"):
        table.add_row(status, str(jobs.get(status, 0)))
    for reason, count in sorted(skips.items()):
        table.add_row(f"no email: {reason}", str(count))
    console.print(table)


@emails_app.command("retry")
def emails_retry(
    event_id: Annotated[
        str, typer.Argument(help="Event id of the PointsEarned whose email failed.")
    ],
) -> None:
    """Queue a failed email again, for example after fixing the SMTP settings."""
    try:
        award_id = uuid.UUID(event_id)
    except ValueError as error:
        raise fail(f"event id {event_id!r} is not a UUID") from error

    async def run() -> str | None:
        pool = await create_pool(CommonSettings().database_url, max_size=1)
        try:
            async with pool.acquire() as connection, connection.transaction():
                return await retry_failed_job(connection, award_id)
        finally:
            await pool.close()

    try:
        previous = asyncio.run(run())
    except LoyaltyError as error:
        raise fail(str(error)) from error
    if previous is None:
        raise fail(f"no email job for event {award_id}")
    if previous != "failed":
        raise fail(f"the email of event {award_id} is {previous}, not failed; it stays {previous}")
    console.print(f"email of event {award_id} queued again")
