"""The ingest HTTP service: verifies Lightspeed webhooks and publishes order events."""
