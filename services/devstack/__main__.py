"""``python -m services.devstack up|down|demo``: the embedded local stack."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from services.common.db import create_pool
from services.devstack.ports import free_port
from services.devstack.stack import StackState, start_stack, stop_stack
from services.store.merchants import Merchant, add_merchant

DEFAULT_DIRECTORY = Path(".stack")
LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/loyalty_local"
DEMO_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/loyalty_demo"


def _print_ports(state: StackState) -> None:
    print(f"  HTTP (webhooks, read API): http://127.0.0.1:{state.http_port}")
    print(f"  Kafka (Tansu):             127.0.0.1:{state.kafka_port}")
    print(f"  SMTP sink:                 127.0.0.1:{state.smtp_port}")
    print(f"  PostgreSQL:                {state.database_url}")
    print(f"  logs:                      {Path(state.directory) / 'logs'}")


def up(directory: Path, database_url: str) -> int:
    if (directory / "state.json").exists():
        print(f"a stack is already running (see {directory / 'state.json'}); run 'make down' first")
        return 1
    state = start_stack(directory, database_url)
    print("local stack started:")
    _print_ports(state)
    print("stop it with 'make down'")
    return 0


def down(directory: Path) -> int:
    state_file = directory / "state.json"
    if not state_file.exists():
        print("no local stack is running")
        return 0
    stop_stack(StackState.load(directory))
    state_file.unlink()
    print("local stack stopped")
    return 0


def demo(directory: Path, database_url: str) -> int:
    from services.devstack.demo import (
        DEMO_MERCHANT_ID,
        DEMO_SHOP,
        demo_deliveries,
        post_deliveries,
        print_ledgers,
        wait_for_balances,
    )

    demo_directory = directory / "demo"
    state = start_stack(
        demo_directory,
        database_url,
        http_port=free_port(),
        kafka_port=free_port(),
        smtp_port=free_port(),
        fresh_database=True,
    )
    try:
        print("local stack started for the demo:")
        _print_ports(state)
        merchant = Merchant(
            merchant_id=DEMO_MERCHANT_ID,
            cluster_id=DEMO_SHOP.cluster_id,
            shop_id=DEMO_SHOP.shop_id,
            webhook_secret=DEMO_SHOP.secret,
            display_name="Demo Bikes",
            base_currency="EUR",
        )
        asyncio.run(_register(state.database_url, merchant))
        print(f"\nregistered merchant {DEMO_MERCHANT_ID}; posting signed webhooks:")
        base_url = f"http://127.0.0.1:{state.http_port}"
        post_deliveries(base_url, demo_deliveries())
        print("\nwaiting for the rewarding consumer...")
        ok = print_ledgers(wait_for_balances(base_url))
    finally:
        stop_stack(state)
        print("\nlocal stack stopped")
    print("demo passed" if ok else "demo FAILED: a balance differs from the expected one")
    return 0 if ok else 1


async def _register(database_url: str, merchant: Merchant) -> None:
    pool = await create_pool(database_url, max_size=1)
    try:
        await add_merchant(pool, merchant)
    finally:
        await pool.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m services.devstack", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "demo"))
    parser.add_argument("--directory", type=Path, default=DEFAULT_DIRECTORY, help="state and logs")
    parser.add_argument(
        "--database-url",
        help=f"database of the stack (default {LOCAL_DATABASE_URL}; "
        f"for the demo {DEMO_DATABASE_URL}, which is dropped and created anew)",
    )
    arguments = parser.parse_args()
    if arguments.command == "demo":
        return demo(arguments.directory, arguments.database_url or DEMO_DATABASE_URL)
    if arguments.command == "up":
        return up(arguments.directory, arguments.database_url or LOCAL_DATABASE_URL)
    return down(arguments.directory)


if __name__ == "__main__":
    sys.exit(main())
