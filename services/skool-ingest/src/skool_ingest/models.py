"""skool_ingest's tables (its own, beside the shared outbox and inbox)."""
