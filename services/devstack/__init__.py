"""The embedded local stack: Tansu broker, SMTP sink and the services, on 127.0.0.1."""
