"""``loyalty dlq``: show dead letters and re-drive them after a fix."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from services.common.db import describe_database
from services.common.errors import LoyaltyError
from services.common.settings import CommonSettings
from services.rewarding.dead_letter_replay import (
    InvalidDeadLetterError,
    StoredLetter,
    read_letters,
    replay_letters,
)
from services.store.replays import replayed_positions

app = typer.Typer(help="Dead letters of the orders topic.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

TopicOption = Annotated[
    str | None,
    typer.Option(help="Dead-letter topic; defaults to <LOYALTY_ORDERS_TOPIC>.dlq."),
]
ErrorTypeOption = Annotated[
    str | None, typer.Option(help="Only letters with this dlq-error-type, such as UnknownMerchant.")
]


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


async def _connect(settings: CommonSettings) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(settings.database_url)
    except (OSError, asyncpg.PostgresError) as error:
        raise LoyaltyError(
            f"PostgreSQL at {describe_database(settings.database_url)} is unreachable ({error}); "
            "start it or set LOYALTY_DATABASE_URL"
        ) from error


async def _letters(
    settings: CommonSettings, topic: str, error_type: str | None
) -> list[StoredLetter]:
    letters = await read_letters(settings, topic)
    return [letter for letter in letters if error_type in (None, letter.error_type)]


@app.command("list")
def list_letters(
    topic: TopicOption = None,
    error_type: ErrorTypeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Print every dead letter with its origin, error and whether it was replayed."""
    settings = CommonSettings()
    dlq_topic = topic or settings.orders_dlq_topic

    async def run() -> tuple[list[StoredLetter], set[tuple[str, int, int]]]:
        letters = await _letters(settings, dlq_topic, error_type)
        connection = await _connect(settings)
        try:
            done: set[tuple[str, int, int]] = set()
            for original_topic in {letter.original_topic for letter in letters}:
                done |= await replayed_positions(connection, original_topic)
        finally:
            await connection.close()
        return letters, done

    try:
        letters, done = asyncio.run(run())
    except (LoyaltyError, InvalidDeadLetterError) as error:
        raise _fail(str(error)) from error
    if as_json:
        for letter in letters:
            print(json.dumps(_as_json(letter, letter.original in done)))
        return
    table = Table(title=f"{len(letters)} dead letters in {dlq_topic}")
    for column in ("dlq offset", "original", "error", "reason", "replayed"):
        table.add_column(column)
    for letter in letters:
        table.add_row(
            f"{letter.dlq_partition}@{letter.dlq_offset}",
            f"{letter.original_topic}[{letter.original_partition}]@{letter.original_offset}",
            letter.error_type,
            letter.reason[:120],
            "yes" if letter.original in done else "no",
        )
    console.print(table)


@app.command("replay")
def replay(
    topic: TopicOption = None,
    error_type: ErrorTypeOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be replayed; publish nothing.")
    ] = False,
) -> None:
    """Re-publish dead letters not replayed before to their original topic."""
    settings = CommonSettings()
    dlq_topic = topic or settings.orders_dlq_topic

    async def run() -> list[StoredLetter]:
        letters = await _letters(settings, dlq_topic, error_type)
        connection = await _connect(settings)
        try:
            return await replay_letters(settings, connection, letters, dry_run=dry_run)
        finally:
            await connection.close()

    try:
        replayed = asyncio.run(run())
    except (LoyaltyError, InvalidDeadLetterError) as error:
        raise _fail(str(error)) from error
    verb = "would replay" if dry_run else "replayed"
    for letter in replayed:
        console.print(
            f"{verb} {dlq_topic} {letter.dlq_partition}@{letter.dlq_offset} to "
            f"{letter.original_topic} ({letter.error_type})"
        )
    console.print(f"{verb} {len(replayed)} dead letters")


def _as_json(letter: StoredLetter, replayed: bool) -> dict[str, object]:
    return {
        "dlq_partition": letter.dlq_partition,
        "dlq_offset": letter.dlq_offset,
        "original_topic": letter.original_topic,
        "original_partition": letter.original_partition,
        "original_offset": letter.original_offset,
        "error_type": letter.error_type,
        "reason": letter.reason,
        "key": letter.key.decode("utf-8", "replace") if letter.key is not None else None,
        "replayed": replayed,
    }
