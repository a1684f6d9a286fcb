"""``loyalty simulate``: what proposed settings would have given, without writing anything."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.common.db import create_pool
from services.common.errors import LoyaltyError
from services.common.settings import CommonSettings
from services.simulation.simulate import (
    InvalidSettingsError,
    SimulationReport,
    count_order_events,
    order_merchants,
    simulate,
)

app = typer.Typer()
console = Console()
errors = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


def read_settings_file(path: Path) -> dict[str, Any]:
    """Return the JSON object of setting changes in ``path``, or raise InvalidSettingsError."""
    try:
        changes = json.loads(path.read_text())
    except OSError as error:
        raise InvalidSettingsError(f"cannot read --settings {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise InvalidSettingsError(f"--settings {path} is not valid JSON: {error}") from error
    if not isinstance(changes, dict):
        raise InvalidSettingsError(
            f'--settings {path} must hold a JSON object such as {{"points_per_unit": "2"}}'
        )
    return changes


async def _simulate(changes: dict[str, Any], merchants: list[str] | None) -> SimulationReport:
    pool = await create_pool(CommonSettings().database_url, max_size=1)
    try:
        async with pool.acquire() as connection:
            known = await order_merchants(connection, merchants)
            missing = sorted(set(merchants or ()) - set(known))
            if missing:
                raise InvalidSettingsError(f"merchant {', '.join(missing)} is not registered")
            total = await count_order_events(connection, known)
            with Progress(
                TextColumn("re-deciding orders"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("events"),
                TimeElapsedColumn(),
                console=errors,
            ) as progress:
                task = progress.add_task("events", total=total)
                return await simulate(
                    connection, changes, merchants, lambda n: progress.advance(task, n)
                )
    finally:
        await pool.close()


def _print_table(report: SimulationReport, show_all: bool) -> None:
    rows = report.customers if show_all else report.changed
    table = Table(title="points per customer: recorded and under the proposed settings")
    for column in ("merchant", "customer", "recorded", "simulated", "difference"):
        table.add_column(column, justify="right" if column != "merchant" else "left")
    for row in rows:
        table.add_row(
            row.merchant_id,
            row.customer_key,
            str(row.recorded),
            str(row.simulated),
            f"{row.difference:+d}",
        )
    console.print(table)
    difference = report.simulated_total - report.recorded_total
    console.print(
        f"{report.orders} orders with {report.inputs} order events re-decided; "
        f"{len(report.changed)} of {len(report.customers)} customers change\n"
        f"total: recorded {report.recorded_total}, simulated {report.simulated_total}, "
        f"difference {difference:+d}\nnothing was written"
    )


def _as_json(report: SimulationReport) -> dict[str, Any]:
    return {
        "orders": report.orders,
        "order_events": report.inputs,
        "settings": {m: s.model_dump(mode="json") for m, s in report.settings.items()},
        "customers": [
            {
                "merchant_id": c.merchant_id,
                "customer_key": c.customer_key,
                "recorded": c.recorded,
                "simulated": c.simulated,
                "difference": c.difference,
            }
            for c in report.customers
        ],
        "total": {
            "recorded": report.recorded_total,
            "simulated": report.simulated_total,
            "difference": report.simulated_total - report.recorded_total,
        },
    }


@app.command("simulate")
def simulate_command(
    settings: Annotated[
        Path,
        typer.Option(
            help='JSON object of setting changes, such as {"points_per_unit": "2"}, applied '
            "over each merchant's current settings."
        ),
    ],
    merchant: Annotated[
        list[str] | None,
        typer.Option(help="Merchant id to simulate; repeat for several. Default: every merchant."),
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="List unchanged customers too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Re-decide the stored order histories under proposed settings and print the difference."""
    try:
        changes = read_settings_file(settings)
        report = asyncio.run(_simulate(changes, merchant or None))
    except (InvalidSettingsError, LoyaltyError) as error:
        raise fail(str(error)) from error
    if as_json:
        console.print_json(json.dumps(_as_json(report)))
        return
    _print_table(report, show_all)
