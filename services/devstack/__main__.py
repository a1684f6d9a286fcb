"""``python -m services.devstack up|down|demo``: the embedded local stack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.common.errors import LoyaltyError
from services.devstack.stack import LOCAL_METRICS_PORTS, StackState, start_stack, stop_stack

DEFAULT_DIRECTORY = Path(".stack")
LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/loyalty_local"
DEMO_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/loyalty_demo"


def _print_ports(state: StackState) -> None:
    print(f"  HTTP (webhooks, read API): http://127.0.0.1:{state.http_port}")
    print(f"  Kafka (Tansu):             127.0.0.1:{state.kafka_port}")
    print(f"  SMTP sink:                 127.0.0.1:{state.smtp_port}")
    print(f"  PostgreSQL:                {state.database_url}")
    print(f"  logs:                      {Path(state.directory) / 'logs'}")
    for name, url in state.metrics_urls().items():
        print(f"  metrics of {name + ':':<15} {url}")


def up(directory: Path, database_url: str) -> int:
    if (directory / "state.json").exists():
        print(f"a stack is already running (see {directory / 'state.json'}); run 'make down' first")
        return 1
    state = start_stack(directory, database_url, metrics_ports=LOCAL_METRICS_PORTS)
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
    from services.devstack.demo import run_demo

    ok = run_demo(directory / "demo", database_url, print_ports=_print_ports)
    print("demo passed" if ok else "demo FAILED: a balance or an email differs from the expected")
    return 0 if ok else 1


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
    try:
        if arguments.command == "demo":
            return demo(arguments.directory, arguments.database_url or DEMO_DATABASE_URL)
        if arguments.command == "up":
            return up(arguments.directory, arguments.database_url or LOCAL_DATABASE_URL)
        return down(arguments.directory)
    except (RuntimeError, LoyaltyError) as error:
        # A busy port or a service that is down: one line that names the fix.
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
