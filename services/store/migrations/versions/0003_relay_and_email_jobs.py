"""Relay checkpoints and the notifier's email jobs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        -- How far each relay has published the event store: the (tx_id, position)
        -- of the last row the broker acknowledged. Rows are read in that order.
        CREATE TABLE relay_checkpoints (
            relay_name text PRIMARY KEY,
            tx_id      xid8 NOT NULL,
            position   bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        -- One row per PointsEarned that gets an email; the event id makes
        -- redelivered points events idempotent.
        CREATE TABLE email_jobs (
            event_id        uuid PRIMARY KEY,
            merchant_id     text NOT NULL,
            customer_key    text NOT NULL,
            order_id        text NOT NULL,
            order_number    text NOT NULL,
            points          bigint NOT NULL,
            balance_after   bigint NOT NULL,
            recipient       text NOT NULL,
            first_name      text,
            shop_name       text NOT NULL,
            language        text NOT NULL,
            status          text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
            due_at          timestamptz NOT NULL,
            next_attempt_at timestamptz NOT NULL,
            attempts        integer NOT NULL DEFAULT 0,
            last_error      text,
            created_at      timestamptz NOT NULL DEFAULT now(),
            finished_at     timestamptz
        );
        CREATE INDEX email_jobs_pending_idx ON email_jobs (next_attempt_at)
            WHERE status = 'pending';

        -- PointsEarned events that got no email, with the reason
        -- ('no_email' or 'disabled'), so the skips can be counted.
        CREATE TABLE email_skips (
            event_id    uuid PRIMARY KEY,
            merchant_id text NOT NULL,
            reason      text NOT NULL,
            skipped_at  timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE email_skips;
        DROP TABLE email_jobs;
        DROP TABLE relay_checkpoints;
        """
    )
