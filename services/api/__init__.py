"""Read API: balances and ledgers from the projections and the event store."""
