"""The rewarding consumer: turns order events into points events in the store."""
