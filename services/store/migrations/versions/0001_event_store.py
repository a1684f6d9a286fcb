"""Event store, merchants, projections and consumer offsets.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE merchants (
            merchant_id    text PRIMARY KEY,
            cluster_id     text NOT NULL,
            shop_id        bigint NOT NULL,
            webhook_secret text NOT NULL,
            display_name   text NOT NULL,
            base_currency  char(3) NOT NULL,
            created_at     timestamptz NOT NULL DEFAULT now(),
            UNIQUE (cluster_id, shop_id)
        );

        -- Append-only event store. position is the global order; tx_id lets a
        -- reader skip rows of transactions still in flight, because bigserial
        -- positions can commit out of order.
        CREATE TABLE events (
            position       bigserial PRIMARY KEY,
            tx_id          xid8 NOT NULL DEFAULT pg_current_xact_id(),
            stream_id      text NOT NULL,
            stream_version integer NOT NULL CHECK (stream_version >= 1),
            event_id       uuid NOT NULL UNIQUE,
            event_type     text NOT NULL,
            merchant_id    text NOT NULL,
            customer_key   text,
            data           jsonb NOT NULL,
            -- Context that is not part of the event, such as the W3C traceparent.
            metadata       jsonb NOT NULL DEFAULT '{}',
            recorded_at    timestamptz NOT NULL DEFAULT now(),
            UNIQUE (stream_id, stream_version)
        );
        -- Ledger reads: a customer's points events in store order.
        CREATE INDEX events_ledger_idx ON events (merchant_id, customer_key, position)
            WHERE event_type IN ('PointsEarned', 'PointsRemoved');

        CREATE FUNCTION reject_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'events is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'restrict_violation';
        END;
        $$;
        CREATE TRIGGER events_append_only
            BEFORE UPDATE OR DELETE ON events
            FOR EACH ROW EXECUTE FUNCTION reject_event_change();
        CREATE TRIGGER events_no_truncate
            BEFORE TRUNCATE ON events
            FOR EACH STATEMENT EXECUTE FUNCTION reject_event_change();

        CREATE TABLE balances (
            merchant_id   text NOT NULL,
            customer_key  text NOT NULL,
            points        bigint NOT NULL,
            last_position bigint NOT NULL,
            PRIMARY KEY (merchant_id, customer_key)
        );

        CREATE TABLE customers (
            merchant_id          text NOT NULL,
            customer_key         text NOT NULL,
            platform_customer_id text,
            email                text,
            first_name           text,
            last_name            text,
            language             text,
            last_seen_at         timestamptz NOT NULL,
            PRIMARY KEY (merchant_id, customer_key)
        );

        -- Next offset to consume per (group, topic, partition), written in the
        -- same transaction as the events it produced.
        CREATE TABLE consumer_offsets (
            group_id    text NOT NULL,
            topic       text NOT NULL,
            partition   integer NOT NULL,
            next_offset bigint NOT NULL,
            PRIMARY KEY (group_id, topic, partition)
        );
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE consumer_offsets;
        DROP TABLE customers;
        DROP TABLE balances;
        DROP TABLE events;
        DROP FUNCTION reject_event_change();
        DROP TABLE merchants;
        """
    )
