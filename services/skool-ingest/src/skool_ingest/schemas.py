"""skool_ingest's request and response models."""
