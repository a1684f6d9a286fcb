"""Run every benchmark: ``python -m tests.bench`` (``make bench``)."""

from __future__ import annotations

import importlib

# Modules with a main() that measures and prints its figures.
BENCHMARKS = [
    "tests.bench.consumer_bench",
]


def main() -> None:
    for name in BENCHMARKS:
        print(f"== {name}")
        importlib.import_module(name).main()


if __name__ == "__main__":
    main()
