"""Backfill: loading a shop's orders from the platform's REST API onto the orders topic."""
