"""The summary that ``loyalty replay`` prints."""

from __future__ import annotations

from services.cli import replay as replay_cli
from services.replay.consumer import ReplayOutcome
from services.replay.digest import LedgerDigest
from services.replay.run import ReplayResult

DIGEST = LedgerDigest(streams=3, events=7, events_md5="e" * 32, balances=2, balances_md5="b" * 32)


def report(result: ReplayResult) -> str:
    """Return the printed summary with rich's line wrapping undone."""
    with replay_cli.console.capture() as captured:
        replay_cli._report(result)
    return " ".join(captured.get().split())


def test_report_lists_copy_before_consumption() -> None:
    outcome = ReplayOutcome(records=12, redelivered=2, events_appended=1, next_offsets={0: 10})
    text = report(ReplayResult(outcome, False, 1, 2, 4, 1, DIGEST, DIGEST, 1.5))

    copied = text.index("copied 1 merchant and 2 settings events from the source database")
    read = text.index(
        "read 4 settings activations and 1 dead-lettered record of the live group from the "
        "source database"
    )
    consumed = text.index("consumed 12 records in 1.5 s (2 fetched again")
    assert copied < read < consumed
    assert "appended 1 event;" in text
    assert "target: 7 events in 3 order streams" in text
    assert "source: 7 events in 3 order streams" in text


def test_report_without_source_skips_activations() -> None:
    text = report(ReplayResult(ReplayOutcome(records=1), True, 0, 0, 0, 0, DIGEST, None, 0.2))

    assert text.startswith("resumed and consumed 1 record in 0.2 s")
    assert "activation" not in text
    assert "source:" not in text
