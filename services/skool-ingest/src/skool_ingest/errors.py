"""skool_ingest's domain errors (mapped to HTTP once, by shared.errors)."""
