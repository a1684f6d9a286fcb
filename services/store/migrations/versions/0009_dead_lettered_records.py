"""Record which records each consumer group dead-lettered instead of deciding them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        -- Written in the transaction that stores the group's offsets, so a row
        -- exists exactly for the records the group dead-lettered.
        CREATE TABLE dead_lettered_records (
            group_id   text NOT NULL,
            topic      text NOT NULL,
            partition  integer NOT NULL,
            "offset"   bigint NOT NULL,
            error_type text NOT NULL,
            reason     text NOT NULL,
            PRIMARY KEY (group_id, topic, partition, "offset")
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE dead_lettered_records;")
