"""skool_ingest: Skool webhook deliveries and skool_subscriptions."""
