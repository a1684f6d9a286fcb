"""The wait that a 429 response requests."""

from __future__ import annotations

from datetime import UTC, datetime

from services.backfill.rate_limit import retry_after_seconds

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_retry_after_seconds_wins() -> None:
    headers = {"retry-after": "7", "x-ratelimit-reset": "300,3600,86400"}

    assert retry_after_seconds(headers, NOW) == 7.0


def test_retry_after_http_date() -> None:
    headers = {"retry-after": "Fri, 04 Dec 2026 12:00:30 GMT"}

    assert retry_after_seconds(headers, NOW) == 30.0


def test_reset_of_exhausted_window() -> None:
    headers = {"x-ratelimit-remaining": "120,0,9000", "x-ratelimit-reset": "40,1800,80000"}

    assert retry_after_seconds(headers, NOW) == 1800.0


def test_reset_with_slashes() -> None:
    headers = {"x-ratelimit-remaining": "0/2990/11990", "x-ratelimit-reset": "12/3000/80000"}

    assert retry_after_seconds(headers, NOW) == 12.0


def test_shortest_reset_without_remaining() -> None:
    assert retry_after_seconds({"x-ratelimit-reset": "45,3000"}, NOW) == 45.0


def test_no_reset_headers() -> None:
    assert retry_after_seconds({}, NOW) is None
    assert retry_after_seconds({"retry-after": "soon"}, NOW) is None
