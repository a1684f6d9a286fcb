"""The demo: signed webhooks in over HTTP, balances and ledgers out of the read API."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from services.common.db import create_pool
from services.devstack.demo_emails import print_emails, set_email_delay, wait_for_emails
from services.devstack.lightspeed_fixtures import (
    Shop,
    order_resource,
    webhook_body,
    webhook_headers,
)
from services.devstack.ports import free_port
from services.devstack.stack import StackState, start_stack, stop_stack
from services.store.merchants import Merchant, add_merchant

DEMO_SHOP = Shop(shop_id=12345, cluster_id="eu1", secret="demo-app-secret")  # noqa: S106
DEMO_MERCHANT_ID = "ls-eu1-12345"
_CET = timezone(timedelta(hours=1))
_START = datetime(2026, 11, 3, 14, 5, 11, tzinfo=_CET)


@dataclass(frozen=True)
class Delivery:
    """One webhook the demo posts."""

    label: str
    resource: dict[str, Any]
    event: str


def _order(order_id: int, status: str, minutes: int, amount: str, **kwargs: Any) -> dict[str, Any]:
    return order_resource(
        order_id=order_id,
        payment_status=status,
        updated_at=_START + timedelta(minutes=minutes),
        price_incl=Decimal(amount),
        **kwargs,
    )


def demo_deliveries() -> list[Delivery]:
    """Return the webhooks of the demo, in the order they are posted."""
    anna = {"customer_id": 501, "email": "anna@example.com", "first_name": "Anna", "language": "nl"}
    ben = {"customer_id": 502, "email": "ben@example.com", "first_name": "Ben"}
    chris = {"customer_id": 503, "email": "chris@example.com", "first_name": "Chris"}
    guest = {"customer_id": None, "email": "  Dana@Example.COM ", "first_name": "Dana"}
    eve = {"customer_id": 505, "email": "eve@example.com", "first_name": "Eve"}
    ben_paid = _order(1002, "paid", 1, "120.00", **ben)
    return [
        Delivery(
            "Anna pays order 1001 (42.50)", _order(1001, "paid", 0, "42.50", **anna), "orders/paid"
        ),
        Delivery("Ben pays order 1002 (120.00)", ben_paid, "orders/paid"),
        Delivery("the same webhook for order 1002 again", ben_paid, "orders/paid"),
        Delivery(
            "Chris pays order 1003 (75.99)",
            _order(1003, "paid", 2, "75.99", **chris),
            "orders/paid",
        ),
        Delivery(
            "Chris's order 1003 is cancelled",
            _order(1003, "cancelled", 30, "75.99", **chris),
            "orders/updated",
        ),
        Delivery(
            "Chris pays order 1004 (19.95)",
            _order(1004, "paid", 40, "19.95", **chris),
            "orders/paid",
        ),
        Delivery(
            "guest Dana pays order 1005 (30.00)",
            _order(1005, "paid", 3, "30.00", **guest),
            "orders/paid",
        ),
        Delivery(
            "Eve places order 1006 (55.00), not paid",
            _order(1006, "not_paid", 4, "55.00", **eve),
            "orders/created",
        ),
    ]


# Customer key and the balance the demo must end with.
EXPECTED_BALANCES: dict[str, int] = {
    "501": 42,
    "502": 120,
    "503": 19,
    "dana@example.com": 30,
    "505": 0,
}


def post_deliveries(base_url: str, deliveries: list[Delivery]) -> None:
    with httpx.Client(base_url=base_url, timeout=15) as client:
        for delivery in deliveries:
            body = webhook_body(delivery.resource)
            response = client.post(
                "/webhooks/lightspeed",
                content=body,
                headers=webhook_headers(DEMO_SHOP, body, delivery.event),
            )
            print(f"  POST {delivery.label}: {response.status_code}")
            if response.status_code != 200:
                raise RuntimeError(f"webhook rejected with {response.status_code}: {response.text}")


def wait_for_balances(base_url: str, timeout: float = 60.0) -> dict[str, dict[str, Any]]:
    """Poll the read API until every expected balance is reached; return the ledgers."""
    deadline = time.monotonic() + timeout
    ledgers: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=base_url, timeout=5) as client:
        while True:
            for key in EXPECTED_BALANCES:
                response = client.get(f"/merchants/{DEMO_MERCHANT_ID}/customers/{key}/points")
                if response.status_code == 200:
                    ledgers[key] = response.json()
            if all(
                key in ledgers and ledgers[key]["balance"] == expected
                for key, expected in EXPECTED_BALANCES.items()
            ):
                return ledgers
            if time.monotonic() > deadline:
                return ledgers
            time.sleep(0.5)


def print_ledgers(ledgers: dict[str, dict[str, Any]]) -> bool:
    """Print each customer's balance and ledger; return whether all balances are as expected."""
    all_match = True
    for key, expected in EXPECTED_BALANCES.items():
        ledger = ledgers.get(key)
        balance = ledger["balance"] if ledger else None
        mark = "ok" if balance == expected else f"MISMATCH, expected {expected}"
        all_match = all_match and balance == expected
        print(f"\ncustomer {key}: balance {balance} ({mark})")
        for entry in (ledger or {}).get("ledger", []):
            print(
                f"  #{entry['position']:<4} {entry['event_type']:<14} {entry['points']:+5d}  "
                f"order {entry['order_number']}  {entry['reason']}"
            )
    return all_match


def run_demo(directory: Path, database_url: str, print_ports: Callable[[StackState], None]) -> bool:
    """Start a stack on free ports and a fresh ``database_url``, post the demo webhooks, stop.

    Return whether every balance and every email is the expected one.
    """
    # The demo's event ids, and so the Message-IDs, repeat from run to run.
    shutil.rmtree(directory / "mail", ignore_errors=True)
    state = start_stack(
        directory,
        database_url,
        http_port=free_port(),
        kafka_port=free_port(),
        smtp_port=free_port(),
        fresh_database=True,
    )
    try:
        print("local stack started for the demo:")
        print_ports(state)
        merchant = Merchant(
            merchant_id=DEMO_MERCHANT_ID,
            cluster_id=DEMO_SHOP.cluster_id,
            shop_id=DEMO_SHOP.shop_id,
            webhook_secret=DEMO_SHOP.secret,
            display_name="Demo Bikes",
            base_currency="EUR",
        )
        asyncio.run(_register(state.database_url, merchant))
        set_email_delay(state.database_url, DEMO_MERCHANT_ID)
        print(f"\nregistered merchant {DEMO_MERCHANT_ID}; posting signed webhooks:")
        base_url = f"http://127.0.0.1:{state.http_port}"
        post_deliveries(base_url, demo_deliveries())
        print("\nwaiting for the rewarding consumer...")
        ok = print_ledgers(wait_for_balances(base_url))
        print("\nwaiting for the notifier's emails...")
        emails = wait_for_emails(Path(state.environment["LOYALTY_MAILDIR"]))
        return print_emails(emails) and ok
    finally:
        stop_stack(state)
        print("\nlocal stack stopped")


async def _register(database_url: str, merchant: Merchant) -> None:
    pool = await create_pool(database_url, max_size=1)
    try:
        await add_merchant(pool, merchant)
    finally:
        await pool.close()
