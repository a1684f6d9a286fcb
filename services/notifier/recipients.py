"""Recipient, shop name and language of an award's email, read from the store's projections."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.db import Connection

SUPPORTED_LANGUAGES = frozenset({"en", "nl"})
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Recipient:
    """The shop and the customer of an award, as the projections hold them."""

    shop_name: str | None
    email: str | None
    first_name: str | None
    language: str


def email_language(order_language: str | None, customer_language: str | None) -> str:
    """Return the order's language when supported, else English.

    The customer's latest language is used only when the order's is unknown.
    """
    language = (order_language or customer_language or DEFAULT_LANGUAGE).lower()
    return language if language in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


async def find_recipient(
    connection: Connection, merchant_id: str, customer_key: str, order_id: str
) -> Recipient:
    """Return the shop name, the customer's contact details and the order's language.

    ``shop_name`` is None for an unregistered merchant. The order's language comes
    from the latest order event applied to the stream ``order:<merchant>:<order>``,
    which is how the rewarding consumer names it. The customer's latest known
    language is the fallback.
    """
    row = await connection.fetchrow(
        """
        SELECT m.display_name, c.email, c.first_name, c.language AS customer_language,
               (SELECT e.data -> 'order' -> 'customer' ->> 'language'
                FROM events e
                WHERE e.stream_id = 'order:' || $1 || ':' || $3
                  AND e.event_type = 'OrderStatusApplied'
                ORDER BY e.stream_version DESC
                LIMIT 1) AS order_language
        FROM (SELECT $1::text AS merchant_id) AS wanted
        LEFT JOIN merchants m ON m.merchant_id = wanted.merchant_id
        LEFT JOIN customers c ON c.merchant_id = wanted.merchant_id AND c.customer_key = $2
        """,
        merchant_id,
        customer_key,
        order_id,
    )
    assert row is not None  # the FROM clause always yields one row
    email = (row["email"] or "").strip() or None
    return Recipient(
        shop_name=row["display_name"],
        email=email,
        first_name=row["first_name"],
        language=email_language(row["order_language"], row["customer_language"]),
    )
