"""Run every benchmark: ``python -m tests.bench`` (``make bench``)."""

from __future__ import annotations

from tests.bench import rebuild_bench

BENCHMARKS = [
    rebuild_bench,
]


def main() -> None:
    failed = []
    for module in BENCHMARKS:
        try:
            module.main()
        except SystemExit as exit_:
            if exit_.code:
                failed.append(module.__name__)
        print()
    if failed:
        raise SystemExit(f"benchmarks below target: {', '.join(failed)}")


if __name__ == "__main__":
    main()
