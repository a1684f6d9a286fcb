"""OpenTelemetry set-up shared by every service: traces, metrics and their exposition."""
