"""The merchant registry: shops, their webhook secrets and display names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from services.common.db import Connection, Queryable


def not_registered(merchant_id: str) -> str:
    """Return the error message for a merchant id that no registered shop has."""
    return (
        f"merchant {merchant_id!r} is not registered; merchant ids have the form "
        "ls-<cluster>-<shop id>, such as ls-eu1-12345. Register a shop with "
        "'loyalty merchant add'"
    )


@dataclass(frozen=True)
class Merchant:
    """A registered shop."""

    merchant_id: str
    cluster_id: str
    shop_id: int
    webhook_secret: str
    display_name: str
    base_currency: str

    def __repr__(self) -> str:
        # Keeps the webhook secret out of logs and tracebacks.
        return (
            f"Merchant(merchant_id={self.merchant_id!r}, cluster_id={self.cluster_id!r}, "
            f"shop_id={self.shop_id})"
        )


class MerchantExistsError(Exception):
    """A merchant with that id, or that cluster and shop, is registered already."""


_COLUMNS = "merchant_id, cluster_id, shop_id, webhook_secret, display_name, base_currency"


async def add_merchant(connection: Queryable, merchant: Merchant) -> None:
    """Register ``merchant``; raise MerchantExistsError when its id or shop is taken."""
    try:
        await connection.execute(
            f"INSERT INTO merchants ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)",  # noqa: S608
            merchant.merchant_id,
            merchant.cluster_id,
            merchant.shop_id,
            merchant.webhook_secret,
            merchant.display_name,
            merchant.base_currency,
        )
    except asyncpg.UniqueViolationError as error:
        raise MerchantExistsError(
            f"merchant {merchant.merchant_id!r} or shop {merchant.cluster_id}/{merchant.shop_id} "
            "is registered already"
        ) from error


async def find_by_shop(connection: Queryable, cluster_id: str, shop_id: int) -> Merchant | None:
    """Return the merchant of the shop ``shop_id`` on ``cluster_id``, or None."""
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM merchants WHERE cluster_id = $1 AND shop_id = $2",  # noqa: S608
        cluster_id,
        shop_id,
    )
    return Merchant(**dict(row)) if row else None


async def find_by_id(connection: Queryable, merchant_id: str) -> Merchant | None:
    """Return the merchant ``merchant_id``, or None."""
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM merchants WHERE merchant_id = $1",  # noqa: S608
        merchant_id,
    )
    return Merchant(**dict(row)) if row else None


async def existing_merchant_ids(connection: Connection, merchant_ids: Iterable[str]) -> set[str]:
    """Return the ids among ``merchant_ids`` that are registered."""
    rows = await connection.fetch(
        "SELECT merchant_id FROM merchants WHERE merchant_id = ANY($1::text[])",
        list(set(merchant_ids)),
    )
    return {row["merchant_id"] for row in rows}
