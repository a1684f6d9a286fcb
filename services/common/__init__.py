"""Infrastructure shared by every service: settings, database, Kafka, logging."""
