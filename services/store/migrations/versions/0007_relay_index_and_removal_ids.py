"""Index the relay's scan and record the removals applied to a pending email.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        -- The relay's scan: points events in (tx_id, position) order.
        CREATE INDEX IF NOT EXISTS events_relay_idx ON events (tx_id, position)
            WHERE event_type IN ('PointsEarned', 'PointsRemoved');

        -- PointsRemoved event ids already subtracted from a pending email's
        -- points, so that a republished removal is not subtracted twice.
        ALTER TABLE email_jobs
            ADD COLUMN IF NOT EXISTS removal_ids uuid[] NOT NULL DEFAULT '{}';
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE email_jobs DROP COLUMN removal_ids;
        DROP INDEX events_relay_idx;
        """
    )
