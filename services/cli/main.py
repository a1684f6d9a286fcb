"""``loyalty``: operate the loyalty ledger from a shell."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.cli import backfill as backfill_cli
from services.cli import rebuild as rebuild_cli
from services.cli import replay as replay_cli
from services.cli import simulate as simulate_cli
from services.cli.dlq import app as dlq_app
from services.cli.emails import emails_app
from services.cli.settings import app as settings_app
from services.common.db import create_pool
from services.common.errors import LoyaltyError
from services.common.kafka import create_topics
from services.common.settings import CommonSettings
from services.store import migrate
from services.store.ledger import read_ledger
from services.store.merchants import Merchant, MerchantExistsError, add_merchant, not_registered

app = typer.Typer(help="Operate the loyalty ledger.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
merchant_app = typer.Typer(help="Registered shops.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(merchant_app, name="merchant")
app.add_typer(topics_app, name="topics")
app.add_typer(rebuild_cli.app)
app.add_typer(simulate_cli.app)
app.add_typer(backfill_cli.app)
app.add_typer(replay_cli.app)
app.add_typer(dlq_app, name="dlq")
app.add_typer(emails_app, name="emails")
app.add_typer(settings_app, name="settings")

console = Console()
errors = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


@db_app.command("migrate")
def db_migrate() -> None:
    """Migrate the database in LOYALTY_DATABASE_URL to the latest schema."""
    settings = CommonSettings()
    try:
        migrate.upgrade(settings.database_url)
    except Exception as error:
        raise fail(f"migration failed: {error}") from error
    console.print(f"database at revision {migrate.current_revision(settings.database_url)}")


@topics_app.command("create")
def topics_create() -> None:
    """Create the pipeline's topics that do not exist yet."""
    settings = CommonSettings()
    try:
        created = asyncio.run(create_topics(settings))
    except LoyaltyError as error:
        raise fail(str(error)) from error
    console.print(f"created: {', '.join(created)}" if created else "all topics exist")


CLUSTERS = ("eu1", "us1")


@merchant_app.command("add")
def merchant_add(
    shop_id: Annotated[int, typer.Option(help="Numeric Lightspeed shop id (X-Shop-Id).", min=1)],
    secret: Annotated[str, typer.Option(help="The app secret that signs the shop's webhooks.")],
    name: Annotated[str, typer.Option(help="Shop name shown to customers.")],
    cluster: Annotated[
        str, typer.Option(help="Lightspeed cluster (X-Cluster-Id): eu1 or us1.")
    ] = "eu1",
    currency: Annotated[str, typer.Option(help="Base currency, ISO 4217 (EUR, USD, ...).")] = "EUR",
    merchant_id: Annotated[
        str | None, typer.Option(help="Merchant id; defaults to ls-<cluster>-<shop id>.")
    ] = None,
) -> None:
    """Register a Lightspeed shop so its webhooks are accepted."""
    if cluster not in CLUSTERS:
        raise fail(f"--cluster {cluster!r} is invalid; use one of {', '.join(CLUSTERS)}")
    if not re.fullmatch(r"[A-Z]{3}", currency.upper()):
        raise fail(f"--currency {currency!r} is not an ISO 4217 code such as EUR")
    if not secret.strip():
        raise fail("--secret must not be empty")
    merchant = Merchant(
        merchant_id=merchant_id or f"ls-{cluster}-{shop_id}",
        cluster_id=cluster,
        shop_id=shop_id,
        webhook_secret=secret,
        display_name=name,
        base_currency=currency.upper(),
    )

    async def run() -> None:
        pool = await create_pool(CommonSettings().database_url, max_size=1)
        try:
            await add_merchant(pool, merchant)
        finally:
            await pool.close()

    try:
        asyncio.run(run())
    except (LoyaltyError, MerchantExistsError) as error:
        raise fail(str(error)) from error
    console.print(f"registered merchant {merchant.merchant_id} (shop {shop_id} on {cluster})")


@app.command("balance")
def balance(
    merchant_id: Annotated[str, typer.Argument(help="Merchant id, such as ls-eu1-12345.")],
    customer_key: Annotated[str, typer.Argument(help="Customer id, or a guest's email.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print a customer's balance and ledger."""
    if "@" in customer_key:
        # Guest keys are stored as the trimmed, lower-cased email.
        customer_key = customer_key.strip().lower()

    async def run() -> object:
        pool = await create_pool(CommonSettings().database_url, max_size=1)
        try:
            return await read_ledger(pool, merchant_id, customer_key)
        finally:
            await pool.close()

    try:
        ledger = asyncio.run(run())
    except LoyaltyError as error:
        raise fail(str(error)) from error
    if ledger is None:
        raise fail(not_registered(merchant_id))
    from services.store.ledger import Ledger

    assert isinstance(ledger, Ledger)
    if ledger.balance is None:
        raise fail(f"customer {customer_key!r} of merchant {merchant_id!r} has no points history")
    if as_json:
        console.print_json(json.dumps(ledger.to_json()))
        return
    table = Table(title=f"{customer_key} at {merchant_id}: balance {ledger.balance}")
    for column in ("position", "event", "points", "order", "reason", "occurred at"):
        table.add_column(column)
    for entry in ledger.entries:
        table.add_row(
            str(entry.position),
            entry.event_type,
            f"{entry.points:+d}",
            entry.order_number,
            entry.reason,
            entry.occurred_at,
        )
    console.print(table)


if __name__ == "__main__":
    app()
