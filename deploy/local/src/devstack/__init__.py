"""The local platform without containers: Kafka, PostgreSQL, an SMTP sink and the services."""
