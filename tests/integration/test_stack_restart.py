"""Starting the local stack against a database that an earlier broker run filled."""

from __future__ import annotations

import pytest

from services.common.db import create_pool
from services.devstack.stack import _forget_consumer_offsets
from tests.support.history import fresh_database

pytestmark = pytest.mark.integration


async def test_restart_forgets_stored_offsets() -> None:
    async with fresh_database() as url:
        pool = await create_pool(url, max_size=1)
        try:
            await pool.execute(
                "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) "
                "VALUES ('loyalty-rewarding', 'orders', 0, 12)"
            )
            await pool.execute(
                "INSERT INTO settings_activations (group_id, topic, partition, merchant_id, "
                "from_offset, settings_version) VALUES ('loyalty-rewarding', 'orders', 0, 'm', 5, 2)"
            )
            await pool.execute(
                'INSERT INTO dead_lettered_records (group_id, topic, partition, "offset", '
                "error_type, reason) VALUES ('loyalty-rewarding', 'orders', 0, 3, 'E', 'r')"
            )
            await _forget_consumer_offsets(url)
            offsets = await pool.fetchval("SELECT count(*) FROM consumer_offsets")
            activations = await pool.fetchval("SELECT count(*) FROM settings_activations")
            dead_letters = await pool.fetchval("SELECT count(*) FROM dead_lettered_records")
        finally:
            await pool.close()

    assert offsets == 0
    assert activations == 0
    assert dead_letters == 0
