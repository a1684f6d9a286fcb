"""Rebuilding the projections from the event store, and checking them against it.

Both run set-based SQL. A rebuild writes every projection in one transaction
and truncates them first, which takes an ACCESS EXCLUSIVE lock: a consumer
batch that writes a projection waits until the rebuild commits, and its events,
not yet committed when the rebuild read ``events``, are added on top afterwards.
So a rebuild is safe while the consumer runs.

A rebuild computes projections on two connections at once. The rebuilding
transaction exports its snapshot after the TRUNCATE holds its locks. A helper
connection imports that snapshot, so the events of every batch that waits for
those locks are invisible to it too. The helper returns the rows of its
projections with binary ``COPY``, and the rebuilding transaction copies them
into the projections, so every write stays in that one transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from services.common.db import Connection
from services.store.projection_registry import Projection, projections

# Sorting and grouping a million rows in memory is much faster than spilling to disk.
REBUILD_WORK_MEM = "256MB"

# Differing rows shown per side of a projection that does not match.
MAX_SAMPLES = 3

ConnectionFactory: TypeAlias = Callable[[], AbstractAsyncContextManager[Connection]]
"""A callable that opens a connection for an ``async with`` block, such as ``pool.acquire``."""


@dataclass(frozen=True)
class TableChecksum:
    """Row count and MD5 of a table's rows in text form, sorted."""

    table: str
    rows: int
    md5: str


@dataclass(frozen=True)
class TableDifference:
    """Rows found in only one of the stored projection and the rebuilt one."""

    table: str
    only_stored: int
    only_rebuilt: int
    samples: tuple[str, ...] = ()


@dataclass
class RebuildResult:
    """Checksums before and after a rebuild, and how long each projection took.

    ``seconds`` is the time of each projection's ``INSERT``, or of its query on
    the helper connection plus the ``COPY`` of its rows. Projections run
    concurrently, so the sum can exceed ``rebuild_seconds``.
    """

    before: list[TableChecksum]
    after: list[TableChecksum]
    seconds: dict[str, float] = field(default_factory=dict)
    rebuild_seconds: float = 0.0
    total_seconds: float = 0.0
    events: int = 0

    @property
    def unchanged(self) -> bool:
        return self.before == self.after


class RebuildListener(Protocol):
    """Receives progress: each projection as it starts and finishes."""

    def started(self, table: str) -> None: ...

    def finished(self, table: str, rows: int) -> None: ...


class _Silent:
    def started(self, table: str) -> None:
        pass

    def finished(self, table: str, rows: int) -> None:
        pass


async def _prepare(connection: Connection) -> None:
    # Row text must not depend on the session, so checksums compare across sessions.
    await connection.execute("SET LOCAL TimeZone = 'UTC'")
    await connection.execute("SET LOCAL DateStyle = 'ISO, YMD'")
    await connection.execute(f"SET LOCAL work_mem = '{REBUILD_WORK_MEM}'")
    # Compiling these one-off queries costs more than it saves.
    await connection.execute("SET LOCAL jit = off")


async def table_checksum(
    connection: Connection, table: str, name: str | None = None
) -> TableChecksum:
    """Return the checksum of ``table``; equal tables give equal checksums in any row order."""
    row = await connection.fetchrow(
        f"""
        SELECT count(*) AS rows,
               md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C"), '')) AS md5
        FROM {table} t
        """  # noqa: S608
    )
    assert row is not None
    return TableChecksum(name or table, row["rows"], row["md5"])


async def checksums(connection: Connection) -> list[TableChecksum]:
    """Return the checksum of every projection. Call inside a transaction."""
    await _prepare(connection)
    return [await table_checksum(connection, p.table) for p in projections()]


async def _fill(connection: Connection, projection: Projection, target: str) -> int:
    status = await connection.execute(projection.insert_sql(target), *projection.parameters)
    return int(status.rsplit(" ", 1)[-1])


async def rebuild(
    connection: Connection,
    listener: RebuildListener | None = None,
    *,
    connect: ConnectionFactory,
) -> RebuildResult:
    """Truncate every projection and derive it again from ``events``, in one transaction.

    ``connect`` opens the helper connection to the same database, while
    ``connection`` stays in use. So a pool must have room for both, or the
    rebuild waits for the pool forever.
    """
    listener = listener or _Silent()
    tables = [p.table for p in projections()]
    started_transaction = time.perf_counter()
    async with connection.transaction():
        before = await checksums(connection)
        result = RebuildResult(before=before, after=[])
        started_rebuild = time.perf_counter()
        await connection.execute(f"TRUNCATE {', '.join(tables)}")
        # Exported after the TRUNCATE got its locks, so the snapshot lacks the
        # events of every consumer batch that now waits for those locks.
        snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
        await _fill_concurrently(connection, connect, snapshot, listener, result.seconds)
        result.rebuild_seconds = time.perf_counter() - started_rebuild
        result.after = await checksums(connection)
        result.events = await connection.fetchval("SELECT count(*) FROM events")
    result.total_seconds = time.perf_counter() - started_transaction
    return result


@dataclass(frozen=True)
class _CopiedRows:
    """Rows of a projection in binary ``COPY`` format, computed on the helper connection."""

    projection: Projection
    chunks: list[bytes]
    seconds: float


async def _fill_concurrently(
    connection: Connection,
    connect: ConnectionFactory,
    snapshot: str,
    listener: RebuildListener,
    seconds: dict[str, float],
) -> None:
    """Fill every projection in the transaction of ``connection``, with a helper connection.

    Both connections take the next projection in registry order whenever they
    are free. ``connection`` fills its projections with ``INSERT ... SELECT``,
    then copies in the rows that the helper computed.
    """
    pending = deque(projections())
    helper = asyncio.create_task(_compute_on_helper(connect, snapshot, pending, listener))
    try:
        while pending:
            projection = pending.popleft()
            listener.started(projection.table)
            started = time.perf_counter()
            rows = await _fill(connection, projection, projection.table)
            seconds[projection.table] = time.perf_counter() - started
            listener.finished(projection.table, rows)
        computed = await helper
    finally:
        if not helper.done():
            helper.cancel()
            await asyncio.gather(helper, return_exceptions=True)
    for copied in computed:
        table = copied.projection.table
        started = time.perf_counter()
        rows = await _copy_in(connection, copied)
        seconds[table] = copied.seconds + time.perf_counter() - started
        listener.finished(table, rows)


async def _compute_on_helper(
    connect: ConnectionFactory,
    snapshot: str,
    pending: deque[Projection],
    listener: RebuildListener,
) -> list[_CopiedRows]:
    """Compute projections taken from ``pending`` in ``snapshot`` and return their rows.

    The rows stay in memory until the rebuilding transaction copies them in.
    The 98,000 customer profiles of the rebuild benchmark take about 9 MB.
    """
    computed: list[_CopiedRows] = []
    if not pending:
        return computed
    async with connect() as helper, helper.transaction(isolation="repeatable_read", readonly=True):
        # SET TRANSACTION SNAPSHOT takes no bind parameters, so the id that
        # pg_export_snapshot returned goes into the statement text.
        await helper.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        await _prepare(helper)
        while pending:
            projection = pending.popleft()
            listener.started(projection.table)
            started = time.perf_counter()
            chunks = await _copy_out(helper, projection)
            computed.append(_CopiedRows(projection, chunks, time.perf_counter() - started))
    return computed


async def _copy_out(helper: Connection, projection: Projection) -> list[bytes]:
    # The regclass cast looks the table up without a lock, so this does not wait
    # for the rebuilding transaction, which holds the table's ACCESS EXCLUSIVE lock.
    types = await helper.fetch(
        """
        SELECT attname, format_type(atttypid, NULL) AS type
        FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
        """,
        projection.table,
    )
    chunks: list[bytes] = []

    async def collect(chunk: bytes) -> None:
        chunks.append(chunk)

    # NOTE: asyncpg 0.32 puts the parameters into the query text as literals, and
    # replaces every "$n" in it, so a projection's SQL must use "$n" for parameters only.
    await helper.copy_from_query(
        projection.typed_select_sql({row["attname"]: row["type"] for row in types}),
        *projection.parameters,
        output=collect,
        format="binary",
    )
    return chunks


async def _copy_in(connection: Connection, copied: _CopiedRows) -> int:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in copied.chunks:
            yield chunk

    status = await connection.copy_to_table(
        copied.projection.table,
        source=chunks(),
        columns=copied.projection.columns,
        format="binary",
    )
    return int(status.rsplit(" ", 1)[-1])


async def verify(
    connection: Connection, listener: RebuildListener | None = None
) -> list[TableDifference]:
    """Rebuild every projection into temporary tables and return how each differs.

    Runs in one REPEATABLE READ snapshot, in which the stored projections and the
    events they were built from are consistent, and writes only temporary tables
    that are dropped at commit. An empty result means every projection matches.
    """
    listener = listener or _Silent()
    differences: list[TableDifference] = []
    async with connection.transaction(isolation="repeatable_read"):
        await _prepare(connection)
        for projection in projections():
            listener.started(projection.table)
            rebuilt = f"rebuilt_{projection.table}"
            await connection.execute(
                f"CREATE TEMP TABLE {rebuilt} (LIKE {projection.table}) ON COMMIT DROP"
            )
            rows = await _fill(connection, projection, rebuilt)
            difference = await _compare(connection, projection.table, rebuilt)
            if difference.only_stored or difference.only_rebuilt:
                differences.append(difference)
            listener.finished(projection.table, rows)
    return differences


async def _compare(connection: Connection, stored: str, rebuilt: str) -> TableDifference:
    counts = await connection.fetchrow(
        f"""
        SELECT (SELECT count(*) FROM (TABLE {stored} EXCEPT ALL TABLE {rebuilt}) s) AS only_stored,
               (SELECT count(*) FROM (TABLE {rebuilt} EXCEPT ALL TABLE {stored}) r) AS only_rebuilt
        """  # noqa: S608
    )
    assert counts is not None
    samples: list[str] = []
    for label, first, second in (("stored", stored, rebuilt), ("rebuilt", rebuilt, stored)):
        rows = await connection.fetch(
            f"(TABLE {first} EXCEPT ALL TABLE {second}) LIMIT {MAX_SAMPLES}"
        )
        samples += [f"{label}: {dict(row)}" for row in rows]
    return TableDifference(stored, counts["only_stored"], counts["only_rebuilt"], tuple(samples))


def describe(checksums: Sequence[TableChecksum]) -> dict[str, str]:
    """Return ``{table: "<rows> rows, md5 <hex>"}`` for printing."""
    return {c.table: f"{c.rows} rows, md5 {c.md5}" for c in checksums}
