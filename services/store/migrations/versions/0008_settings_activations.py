"""Record which settings version each consumer group decided each partition's records with.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        -- From from_offset on, the group decided the merchant's records on this
        -- partition with settings_version, until the next row of the same key.
        CREATE TABLE settings_activations (
            group_id         text NOT NULL,
            topic            text NOT NULL,
            partition        integer NOT NULL,
            merchant_id      text NOT NULL,
            from_offset      bigint NOT NULL CHECK (from_offset >= 0),
            settings_version integer NOT NULL CHECK (settings_version >= 1),
            PRIMARY KEY (group_id, topic, partition, merchant_id, from_offset)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE settings_activations;")
