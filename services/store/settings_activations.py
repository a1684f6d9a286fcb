"""Settings activations: the settings version each partition's records were decided with.

An activation means: from ``from_offset`` on, the group decided the merchant's
records on this partition with settings ``version``, until the key's next
activation. The processor stores activations in the transaction that stores the
offsets, so they name exactly the records each version decided. A replay reads
them to decide every record with the settings the live consumer used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.common.db import Connection

ActivationKey = tuple[str, int, str]
"""``(topic, partition, merchant_id)``."""


@dataclass(frozen=True, order=True)
class SettingsUse:
    """One record decided with a merchant's settings ``version``."""

    topic: str
    partition: int
    offset: int
    merchant_id: str
    version: int

    @property
    def key(self) -> ActivationKey:
        return (self.topic, self.partition, self.merchant_id)


@dataclass(frozen=True, order=True)
class Activation:
    """From ``from_offset`` on, the key's records were decided with ``version``."""

    topic: str
    partition: int
    merchant_id: str
    from_offset: int
    version: int

    @property
    def key(self) -> ActivationKey:
        return (self.topic, self.partition, self.merchant_id)


def new_activations(
    current: Mapping[ActivationKey, int], uses: Iterable[SettingsUse]
) -> list[Activation]:
    """Return the activations that ``uses`` add to the ``current`` version of each key.

    A key gets an activation at the first offset whose version differs from the
    version before it, in offset order.
    """
    last = dict(current)
    added: list[Activation] = []
    for use in sorted(uses, key=lambda u: (u.key, u.offset)):
        if last.get(use.key) != use.version:
            added.append(Activation(*use.key, use.offset, use.version))
            last[use.key] = use.version
    return added


async def record_activations(
    connection: Connection, group_id: str, uses: Iterable[SettingsUse]
) -> list[Activation]:
    """Store the activations that ``uses`` add for ``group_id`` and return them."""
    uses = list(uses)
    if not uses:
        return []
    keys = sorted({use.key for use in uses})
    rows = await connection.fetch(
        """
        SELECT DISTINCT ON (topic, partition, merchant_id)
               topic, partition, merchant_id, settings_version
        FROM settings_activations
        WHERE group_id = $1 AND (topic, partition, merchant_id) IN (
            SELECT * FROM unnest($2::text[], $3::int[], $4::text[])
        )
        ORDER BY topic, partition, merchant_id, from_offset DESC
        """,
        group_id,
        [key[0] for key in keys],
        [key[1] for key in keys],
        [key[2] for key in keys],
    )
    current = {
        (row["topic"], row["partition"], row["merchant_id"]): row["settings_version"]
        for row in rows
    }
    added = new_activations(current, uses)
    if added:
        # A record fetched again after a rebalance is skipped by its stored offset,
        # so an activation is not written twice. The conflict clause is a guard.
        await connection.executemany(
            """
            INSERT INTO settings_activations
                (group_id, topic, partition, merchant_id, from_offset, settings_version)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT DO NOTHING
            """,
            [
                (group_id, a.topic, a.partition, a.merchant_id, a.from_offset, a.version)
                for a in added
            ],
        )
    return added


async def load_activations(connection: Connection, group_id: str, topic: str) -> list[Activation]:
    """Return every activation of ``group_id`` on ``topic``, in key and offset order."""
    rows = await connection.fetch(
        """
        SELECT topic, partition, merchant_id, from_offset, settings_version
        FROM settings_activations
        WHERE group_id = $1 AND topic = $2
        ORDER BY partition, merchant_id, from_offset
        """,
        group_id,
        topic,
    )
    return [
        Activation(
            row["topic"],
            row["partition"],
            row["merchant_id"],
            row["from_offset"],
            row["settings_version"],
        )
        for row in rows
    ]
