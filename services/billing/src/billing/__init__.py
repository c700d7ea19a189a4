"""billing: plan catalog, customers, subscriptions, usage meters."""
