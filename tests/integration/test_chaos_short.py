"""A short chaos run: the pipeline under killed consumers and terminated connections."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.devstack.chaos.run import ChaosOptions, run_chaos
from tests.conftest import SERVER_URL

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)
async def test_short_chaos_run_exactly_once(tmp_path: Path) -> None:
    options = ChaosOptions(
        webhooks=1500,
        customers=150,
        consumers=2,
        ingests=1,
        poison_records=2,
        drain_timeout=60,
        min_fault_seconds=15,
        server_url=SERVER_URL,
        directory=tmp_path,
        emails=True,
    )

    summary = await run_chaos(options)

    print(summary.render())
    assert summary.points_lost == 0
    assert summary.points_duplicated == 0
    assert summary.failures() == []
    assert summary.sigkills + summary.sigterms >= 1
    assert summary.connections_terminated >= 1
    assert summary.webhooks_sent >= 1500
    assert summary.emails is not None
    assert summary.emails.expected > 0
    assert summary.emails.missing == 0
    assert summary.emails.cancelled_wrongly == 0
