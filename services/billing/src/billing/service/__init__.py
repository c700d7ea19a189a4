"""billing's domain: subscriptions and their limits."""
