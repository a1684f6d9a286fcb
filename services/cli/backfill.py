"""``loyalty backfill``: load a shop's orders from the platform's REST API onto the orders topic."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.backfill.bootstrap import backfill
from services.backfill.runner import BackfillResult
from services.backfill.settings import MAX_PAGE_SIZE, BackfillSettings
from services.common.errors import LoyaltyError

app = typer.Typer()
console = Console()
errors = Console(stderr=True)


def parse_since(value: str) -> datetime:
    """Return a date or ISO 8601 time as an aware datetime; a date means UTC midnight."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(
            f"{value!r} is not a date such as 2026-11-01 "
            "or a time such as 2026-11-01T08:00:00+01:00"
        ) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ProgressListener:
    """Shows orders published against the count the API reports."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("orders", total=None)

    def total(self, orders: int | None, already_done: int) -> None:
        self._progress.update(self._task, total=orders, completed=already_done)

    def page_done(self, page: int, orders: int) -> None:
        self._progress.update(self._task, advance=orders, description=f"page {page}")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("orders"),
        TimeElapsedColumn(),
        console=errors,
    )


@app.command("backfill")
def backfill_command(
    merchant: Annotated[str, typer.Option(help="Merchant id, such as ls-eu1-12345.")],
    since: Annotated[
        str,
        typer.Option(
            help="Load every order changed at or after this date (UTC midnight) or ISO 8601 time."
        ),
    ],
    api_key: Annotated[
        str | None, typer.Option(help="REST API key; default LOYALTY_LIGHTSPEED_API_KEY.")
    ] = None,
    api_secret: Annotated[
        str | None, typer.Option(help="REST API secret; default LOYALTY_LIGHTSPEED_API_SECRET.")
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            help="Base URL including the language, such as https://api.webshopapp.com/en; "
            "default LOYALTY_LIGHTSPEED_API_URL, else the merchant's cluster host."
        ),
    ] = None,
    language: Annotated[str, typer.Option(help="Shop language in the default URL.")] = "en",
    page_size: Annotated[
        int | None,
        typer.Option(
            min=1, max=MAX_PAGE_SIZE, help="Orders per page; default LOYALTY_BACKFILL_PAGE_SIZE."
        ),
    ] = None,
    restart: Annotated[
        bool,
        typer.Option(help="Forget the checkpoint of this merchant and --since; start at page 1."),
    ] = False,
) -> None:
    """Publish a shop's orders changed since a date as webhooks would; resumes where it stopped."""
    moment = parse_since(since)
    options: dict[str, Any] = {
        "lightspeed_api_key": api_key,
        "lightspeed_api_secret": api_secret,
        "lightspeed_api_url": api_url,
        "backfill_page_size": page_size,
    }
    try:
        given = {name: value for name, value in options.items() if value is not None}
        settings = BackfillSettings(**given)
    except ValidationError as error:
        errors.print(f"[red]error:[/red] invalid backfill setting: {error}")
        raise typer.Exit(code=1) from error

    listener_progress = _progress()
    try:
        with listener_progress:
            result = asyncio.run(
                backfill(
                    settings,
                    merchant,
                    moment,
                    ProgressListener(listener_progress),
                    language=language,
                    restart=restart,
                )
            )
    except LoyaltyError as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=1) from error

    _print_result(result, merchant, moment, settings.orders_dlq_topic)


def _print_result(result: BackfillResult, merchant: str, since: datetime, dlq_topic: str) -> None:
    checkpoint = result.checkpoint
    if result.already_complete:
        console.print(
            f"the backfill of {merchant} since {since.isoformat()} completed at "
            f"{checkpoint.completed_at}; pass --restart to load the orders again"
        )
        return
    console.print(
        f"published {result.published} orders from {result.pages} pages "
        f"({checkpoint.orders_published} in total since the first run, through page "
        f"{checkpoint.last_page})"
    )
    if checkpoint.orders_rejected:
        console.print(
            f"[yellow]{checkpoint.orders_rejected} invalid orders[/yellow] went to "
            f"{dlq_topic} with the reason in the dlq-reason header"
        )
