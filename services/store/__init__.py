"""The append-only points event store in PostgreSQL, its projections and migrations."""
