"""Dead letters already re-driven by 'loyalty dlq replay'.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-04
"""

from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        -- One row per original record re-driven, so a letter that was published
        -- twice (a crash between publishing and committing) is replayed once.
        CREATE TABLE dead_letter_replays (
            original_topic     text NOT NULL,
            original_partition integer NOT NULL,
            original_offset    bigint NOT NULL,
            dlq_topic          text NOT NULL,
            dlq_partition      integer NOT NULL,
            dlq_offset         bigint NOT NULL,
            error_type         text NOT NULL,
            replayed_at        timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (original_topic, original_partition, original_offset)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE dead_letter_replays;")
