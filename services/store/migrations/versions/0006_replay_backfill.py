"""Backfill checkpoints, and an index that finds settings events without a full scan.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        -- Rebuilding merchant_settings reads only these rows.
        CREATE INDEX events_settings_idx ON events (merchant_id, stream_version)
            WHERE event_type = 'SettingsChanged';

        -- Progress of a REST backfill of one merchant's orders changed since a time:
        -- pages 1..last_page of page_size orders are published.
        CREATE TABLE backfill_checkpoints (
            merchant_id      text NOT NULL REFERENCES merchants (merchant_id),
            since            timestamptz NOT NULL,
            page_size        integer NOT NULL CHECK (page_size BETWEEN 1 AND 250),
            last_page        integer NOT NULL DEFAULT 0 CHECK (last_page >= 0),
            orders_published bigint NOT NULL DEFAULT 0,
            orders_rejected  bigint NOT NULL DEFAULT 0,
            started_at       timestamptz NOT NULL DEFAULT now(),
            updated_at       timestamptz NOT NULL DEFAULT now(),
            completed_at     timestamptz,
            PRIMARY KEY (merchant_id, since)
        );
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE backfill_checkpoints;
        DROP INDEX events_settings_idx;
        """
    )
