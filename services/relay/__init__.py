"""The relay: publishes the store's points events to ``loyalty.points.v1`` in commit-safe order."""
