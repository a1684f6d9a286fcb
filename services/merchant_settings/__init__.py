"""Per-merchant settings, event-sourced in the merchant's settings stream."""
