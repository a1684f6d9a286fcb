"""``loyalty settings show|set|history``: a merchant's loyalty settings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from services.common.db import create_pool
from services.common.errors import LoyaltyError
from services.common.settings import CommonSettings
from services.merchant_settings.commands import settings_history, show_settings, update_settings
from services.merchant_settings.model import MerchantSettings

T = TypeVar("T")

app = typer.Typer(help="Per-merchant loyalty settings.", no_args_is_help=True)

console = Console()
errors = Console(stderr=True)

SET_HELP = (
    "A setting as NAME=VALUE; repeat for several. Lists are comma-separated "
    "(reward_statuses=paid,partially_paid; an empty value is the empty list)."
)
LIST_SETTINGS = frozenset({"reward_statuses", "cancel_statuses"})


def parse_assignment(text: str) -> tuple[str, Any]:
    """Return the setting name and value of ``NAME=VALUE``, lists split on commas."""
    name, separator, value = text.partition("=")
    name = name.strip()
    if not separator or not name:
        raise typer.BadParameter(f"{text!r} is not NAME=VALUE, such as points_per_unit=2")
    if name in LIST_SETTINGS:
        return name, [item.strip() for item in value.split(",") if item.strip()]
    return name, value.strip()


def print_settings(merchant_id: str, settings: MerchantSettings, as_json: bool) -> None:
    values = settings.model_dump(mode="json")
    if as_json:
        console.print_json(json.dumps({"merchant_id": merchant_id, **values}))
        return
    table = Table(title=f"settings of {merchant_id}, version {settings.version}")
    table.add_column("setting")
    table.add_column("value")
    for name, value in values.items():
        if name == "version":
            continue
        shown = ", ".join(sorted(value)) if isinstance(value, list) else str(value)
        table.add_row(name, shown)
    console.print(table)


def run_with_pool(action: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run ``action`` on a pool to LOYALTY_DATABASE_URL; exit with status 1 on a LoyaltyError."""

    async def run() -> T:
        pool = await create_pool(CommonSettings().database_url, max_size=1)
        try:
            return await action(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(run())
    except LoyaltyError as error:
        errors.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(code=1) from error


@app.command("show")
def show(
    merchant_id: Annotated[str, typer.Argument(help="Merchant id, such as ls-eu1-12345.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print the merchant's current settings."""
    settings = run_with_pool(lambda pool: show_settings(pool, merchant_id))
    print_settings(merchant_id, settings, as_json)


@app.command("set")
def set_settings(
    merchant_id: Annotated[str, typer.Argument(help="Merchant id, such as ls-eu1-12345.")],
    assignments: Annotated[list[str], typer.Argument(help=SET_HELP, metavar="NAME=VALUE...")],
    actor: Annotated[
        str, typer.Option(help="Who makes the change, recorded with it.")
    ] = "loyalty-cli",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Change the named settings and keep the others; each change is recorded."""
    changes = dict(parse_assignment(text) for text in assignments)
    settings = run_with_pool(lambda pool: update_settings(pool, merchant_id, changes, actor=actor))
    print_settings(merchant_id, settings, as_json)


@app.command("history")
def history(
    merchant_id: Annotated[str, typer.Argument(help="Merchant id, such as ls-eu1-12345.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print every recorded settings change with its actor and time, oldest first."""
    changes = run_with_pool(lambda pool: settings_history(pool, merchant_id))
    if as_json:
        console.print_json(json.dumps({"merchant_id": merchant_id, "changes": changes}))
        return
    table = Table(title=f"settings changes of {merchant_id}")
    for column in ("version", "changed at", "actor", "changes"):
        table.add_column(column)
    for change in changes:
        table.add_row(
            str(change["version"]),
            change["changed_at"],
            change["actor"],
            json.dumps(change["changes"], sort_keys=True),
        )
    console.print(table)
