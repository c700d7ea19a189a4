"""skool_ingest's domain."""
