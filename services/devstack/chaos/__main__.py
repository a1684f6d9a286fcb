"""Run the chaos suite: ``python -m services.devstack.chaos [--webhooks N] ...``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from services.devstack.chaos.run import ChaosOptions, ChaosTimeoutError, run_chaos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--webhooks", type=int, default=20_000, help="webhooks to send")
    parser.add_argument("--customers", type=int, default=1_000, help="distinct customers")
    parser.add_argument("--consumers", type=int, default=3, help="rewarding consumer processes")
    parser.add_argument("--ingests", type=int, default=2, help="ingest processes")
    parser.add_argument("--seed", type=int, default=None, help="random seed; random by default")
    parser.add_argument("--directory", type=Path, default=Path(".stack/chaos"), help="log folder")
    parser.add_argument(
        "--service-log-level", default="WARNING", help="log level of the service processes"
    )
    parser.add_argument(
        "--emails",
        action="store_true",
        help="also run the relay, the notifier and an SMTP sink that is stopped a while, "
        "and count the emails",
    )
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    options = ChaosOptions(
        webhooks=arguments.webhooks,
        customers=arguments.customers,
        consumers=arguments.consumers,
        ingests=arguments.ingests,
        seed=arguments.seed,
        directory=arguments.directory,
        service_log_level=arguments.service_log_level,
        emails=arguments.emails,
    )
    try:
        summary = asyncio.run(run_chaos(options))
    except ChaosTimeoutError as error:
        print(f"chaos run failed: {error}", file=sys.stderr)
        sys.exit(1)
    print(summary.render())
    sys.exit(0 if summary.passed else 1)


if __name__ == "__main__":
    main()
