"""``loyalty rebuild`` and ``loyalty verify``: projections against the event store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.common.db import Connection, create_pool
from services.common.errors import LoyaltyError
from services.common.settings import CommonSettings
from services.store.projection_registry import projections
from services.store.rebuild import RebuildResult, TableDifference, rebuild, verify

app = typer.Typer()
console = Console()
errors = Console(stderr=True)

T = TypeVar("T")


class ProgressListener:
    """Shows one progress bar per projection."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks = {
            p.table: progress.add_task(p.table, total=1, start=False) for p in projections()
        }

    def started(self, table: str) -> None:
        self._progress.start_task(self._tasks[table])

    def finished(self, table: str, rows: int) -> None:
        self._progress.update(self._tasks[table], completed=1, description=f"{table}: {rows} rows")


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    )


def _run(work: Callable[[asyncpg.Pool, Connection, ProgressListener], Awaitable[T]]) -> T:
    async def run() -> T:
        # A rebuild uses a second connection of the pool to compute projections concurrently.
        pool = await create_pool(CommonSettings().database_url, max_size=2)
        try:
            async with pool.acquire() as connection:
                with _progress() as progress:
                    return await work(pool, connection, ProgressListener(progress))
        finally:
            await pool.close()

    try:
        return asyncio.run(run())
    except LoyaltyError as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=1) from error


@app.command("rebuild")
def rebuild_command() -> None:
    """Truncate every projection and rebuild it from the event store, in one transaction."""
    result: RebuildResult = _run(
        lambda pool, connection, listener: rebuild(connection, listener, connect=pool.acquire)
    )
    table = Table(title=f"projections rebuilt from {result.events} events")
    for column in ("projection", "rows before", "rows after", "checksum after", "seconds"):
        table.add_column(column, overflow="fold")
    for before, after in zip(result.before, result.after, strict=True):
        mark = "" if before == after else " (changed)"
        table.add_row(
            after.table,
            str(before.rows),
            str(after.rows),
            after.md5 + mark,
            f"{result.seconds[after.table]:.3f}",
        )
    console.print(table)
    if result.unchanged:
        console.print("checksums after the rebuild equal those before it")
    else:
        changed = [b.table for b, a in zip(result.before, result.after, strict=True) if b != a]
        console.print(
            f"[yellow]the rebuild changed {', '.join(changed)}:[/yellow] the stored projections "
            "had drifted from the event store and now match it"
        )


@app.command("verify")
def verify_command() -> None:
    """Rebuild every projection into temporary tables and compare; change nothing.

    Exits with status 1 when a projection differs from what the event store gives.
    """
    differences: list[TableDifference] = _run(
        lambda _pool, connection, listener: verify(connection, listener)
    )
    if not differences:
        console.print("every projection matches the event store")
        return
    for difference in differences:
        errors.print(
            f"[red]{difference.table} differs:[/red] {difference.only_stored} stored rows are "
            f"not in the rebuild, {difference.only_rebuilt} rebuilt rows are not stored"
        )
        for sample in difference.samples:
            errors.print(f"  {sample}")
    errors.print("run 'loyalty rebuild' to replace the projections with the rebuilt ones")
    raise typer.Exit(code=1)
