"""``make demo``'s program, run as a subprocess on its own free ports and database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.devstack.database import drop_database, with_database
from tests.conftest import SERVER_URL

pytestmark = pytest.mark.integration


@pytest.fixture
def demo_database_url(unique: str) -> Iterator[str]:
    url = with_database(SERVER_URL, f"loyalty_demo_test_{unique}")
    yield url
    asyncio.run(drop_database(url))


def test_demo_prints_expected_balances(
    tmp_path: Path, repository_root: Path, demo_database_url: str
) -> None:
    command = [
        sys.executable,
        "-m",
        "services.devstack",
        "demo",
        "--directory",
        str(tmp_path / "stack"),
        "--database-url",
        demo_database_url,
    ]

    result = subprocess.run(
        command, cwd=repository_root, capture_output=True, text=True, timeout=240, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo passed" in result.stdout
    for customer, balance in [
        ("501", 42),
        ("502", 120),
        ("503", 19),
        ("dana@example.com", 30),
        ("505", 0),
    ]:
        assert f"customer {customer}: balance {balance} (ok)" in result.stdout
    assert "local stack stopped" in result.stdout
    for recipient, subject in [
        ("anna@example.com", "Je hebt 42 punten gespaard bij Demo Bikes"),
        ("ben@example.com", "You earned 120 points at Demo Bikes"),
        ("chris@example.com", "You earned 19 points at Demo Bikes"),
        ("Dana@Example.COM", "You earned 30 points at Demo Bikes"),
    ]:
        assert f"to {recipient:<20} {subject}" in result.stdout
    assert "You earned 75 points" not in result.stdout
