"""``loyalty replay``: re-consume the orders topic into a fresh database and compare ledgers."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.common.errors import LoyaltyError
from services.common.settings import RewardingSettings
from services.devstack.database import database_name
from services.replay.digest import LedgerDigest
from services.replay.run import ReplayResult, replay

app = typer.Typer()
console = Console()
errors = Console(stderr=True)


class ProgressListener:
    """Shows records consumed against the topic's high watermarks."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("replaying records", total=None)

    def progress(self, consumed: int, end: int | None) -> None:
        self._progress.update(self._task, completed=consumed, total=end)


def _digest_line(label: str, digest: LedgerDigest) -> str:
    return (
        f"{label}: {digest.events} events in {digest.streams} order streams (md5 "
        f"{digest.events_md5}), {digest.balances} balances (md5 {digest.balances_md5})"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _report(result: ReplayResult) -> None:
    outcome = result.outcome
    if result.merchants_copied or result.settings_events_copied:
        console.print(
            f"copied {_count(result.merchants_copied, 'merchant')} and "
            f"{_count(result.settings_events_copied, 'settings event')} from the source database"
        )
    if result.source is not None:
        console.print(
            f"read {_count(result.settings_activations_read, 'settings activation')} and "
            f"{_count(result.live_dead_letters_read, 'dead-lettered record')} of the live group "
            "from the source database"
        )
    verb = "resumed and consumed" if result.resumed else "consumed"
    console.print(
        f"{verb} {_count(outcome.records, 'record')} in {result.seconds:.1f} s "
        f"({outcome.redelivered} fetched again after a rebalance and skipped), appended "
        f"{_count(outcome.events_appended, 'event')}; next offsets per partition "
        f"{outcome.next_offsets}"
    )
    for letter in outcome.dead_letters:
        record = letter.record
        console.print(
            f"[yellow]not applied[/yellow] {record.topic}[{record.partition}]@{record.offset}: "
            f"{letter.error_type}: {letter.reason}"
        )
    console.print(_digest_line("target", result.target))
    if result.source is not None:
        console.print(_digest_line("source", result.source))


@app.command("replay")
def replay_command(
    database_url: Annotated[
        str, typer.Option(help="Database to replay into; created and migrated when missing.")
    ],
    group_id: Annotated[
        str | None,
        typer.Option(
            help="Consumer group of the replay; default loyalty-replay-<target database name>. "
            "The same group and database resume an interrupted replay."
        ),
    ] = None,
    source_database_url: Annotated[
        str | None,
        typer.Option(
            help="Database to copy merchants and settings from and compare the ledger with; "
            "default LOYALTY_DATABASE_URL."
        ),
    ] = None,
    copy_merchants: Annotated[
        bool,
        typer.Option(help="Copy merchants and settings from the source database first."),
    ] = True,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the replay to catch up.")
    ] = 3600.0,
) -> None:
    """Re-consume the orders topic from the beginning with a new consumer group.

    Stops once the stored offsets reach the high watermarks, then compares the
    ledger with the source database's; exits with status 1 when they differ.
    """
    live = RewardingSettings()
    group = group_id or f"loyalty-replay-{database_name(database_url)}"
    settings = live.model_copy(update={"database_url": database_url, "rewarding_group_id": group})
    source = (source_database_url or live.database_url) if copy_merchants else None
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=errors,
        ) as progress:
            result = asyncio.run(
                replay(
                    settings, source, live.rewarding_group_id, ProgressListener(progress), timeout
                )
            )
    except LoyaltyError as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=1) from error
    _report(result)
    if result.identical is False:
        errors.print(
            "[red]the replayed ledger differs from the source database's[/red]: the topic may "
            "no longer hold every record (a broker that keeps topics in memory, such as the "
            "local stack's, loses them on restart), the live consumer may still be consuming, or "
            f"{live.rewarding_group_id!r} (LOYALTY_REWARDING_GROUP_ID) is not the live group"
        )
        raise typer.Exit(code=1)
    if result.identical:
        console.print("the replayed ledger is identical to the source database's")
