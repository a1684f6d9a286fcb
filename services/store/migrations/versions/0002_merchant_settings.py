"""Projection of each merchant's current settings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE merchant_settings (
            merchant_id text PRIMARY KEY REFERENCES merchants (merchant_id),
            version     integer NOT NULL,
            settings    jsonb NOT NULL
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE merchant_settings;")
